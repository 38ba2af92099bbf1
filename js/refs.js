// The reference strip: thumbnails with a counter (n/max), a role each, drag to reorder,
// remove; add by file picker, drag and drop or paste. Python checks every upload.
import { h } from "./dom.js";

export function referenceStrip({ model, channel, report, urls, root }) {
  const count = h("span", { class: "nb2-ref-count" });
  const picker = h("input", { type: "file", accept: "image/png,image/jpeg,image/webp", multiple: true, class: "nb2-ref-file", hidden: true });
  const add = h("button", { type: "button", class: "nb2-ref-add", text: "+ reference", onclick: () => picker.click() });
  const list = h("div", { class: "nb2-ref-list" });
  const el = h("div", { class: "nb2-refs" },
    h("div", { class: "nb2-row" }, h("span", { class: "nb2-section", text: "References" }), count, add, picker,
      h("span", { class: "nb2-hint", text: "drop or paste images here" })),
    list);

  async function upload(files) {
    for (const file of files) {
      try {
        const data = await file.arrayBuffer();
        await channel.request("add_reference", { name: file.name || "pasted image", size: file.size, mime: file.type }, [data]);
      } catch (error) {
        report(error);
      }
    }
  }

  function render() {
    const refs = model.get("references");
    const choices = model.get("choices");
    const max = choices.models[model.get("image_model")].max_references;
    count.textContent = `${refs.length}/${max}`;
    add.disabled = refs.length >= max;
    urls.prune(new Set([...urls.urls.keys()].filter((k) => !k.startsWith("ref:") || refs.some((r) => `ref:${r.key}` === k))));
    list.replaceChildren(...refs.map((ref, i) => item(ref, i, choices.roles)));
  }

  function item(ref, index, roles) {
    const preset = roles.includes(ref.role) || ref.role === "";
    const select = h("select", { class: "nb2-ref-role", "aria-label": `role of ${ref.name}` },
      h("option", { value: "", text: "no role" }),
      ...roles.map((r) => h("option", { value: r, text: r })),
      h("option", { value: "__other", text: "other…" }));
    select.value = preset ? ref.role : "__other";
    const free = h("input", { class: "nb2-ref-free", type: "text", placeholder: "what it is for", value: preset ? "" : ref.role, hidden: preset });
    select.addEventListener("change", () => {
      if (select.value === "__other") {
        free.hidden = false;
        free.focus();
      } else {
        channel.request("set_role", { ref: ref.key, role: select.value }).catch(report);
      }
    });
    free.addEventListener("change", () => channel.request("set_role", { ref: ref.key, role: free.value }).catch(report));
    const card = h("div", { class: "nb2-ref", draggable: "true", dataset: { key: ref.key, index: String(index) }, title: `${ref.name} (${ref.width}×${ref.height})` },
      h("img", { src: urls.get(`ref:${ref.key}`, ref.thumb), alt: ref.name }),
      h("span", { class: "nb2-ref-n", text: String(index + 1) }),
      h("button", { type: "button", class: "nb2-ref-remove", title: `remove ${ref.name}`, text: "×",
        onclick: () => channel.request("remove_reference", { ref: ref.key }).catch(report) }),
      h("div", { class: "nb2-ref-name", text: ref.name }),
      select, free);
    card.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("application/x-nb2-ref", ref.key);
      event.dataTransfer.effectAllowed = "move";
    });
    card.addEventListener("dragover", (event) => {
      if (event.dataTransfer.types.includes("application/x-nb2-ref")) event.preventDefault();
    });
    card.addEventListener("drop", (event) => {
      const key = event.dataTransfer.getData("application/x-nb2-ref");
      if (!key) return;
      event.preventDefault();
      event.stopPropagation();
      if (key !== ref.key) channel.request("move_reference", { ref: key, to: index }).catch(report);
    });
    return card;
  }

  // Files dropped anywhere on the panel, or pasted while it has focus, become references.
  function onDragOver(event) {
    if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
  }
  function onDrop(event) {
    if (event.dataTransfer?.files.length) {
      event.preventDefault();
      upload([...event.dataTransfer.files]);
    }
  }
  function onPaste(event) {
    const files = [...(event.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
    if (files.length) {
      event.preventDefault();
      upload(files);
    }
  }
  picker.addEventListener("change", () => {
    upload([...picker.files]);
    picker.value = "";
  });
  root.addEventListener("dragover", onDragOver);
  root.addEventListener("drop", onDrop);
  root.addEventListener("paste", onPaste);
  model.on("change:references change:image_model", render);
  render();
  return {
    el,
    cleanup() {
      model.off("change:references change:image_model", render);
      root.removeEventListener("dragover", onDragOver);
      root.removeEventListener("drop", onDrop);
      root.removeEventListener("paste", onPaste);
    },
  };
}
