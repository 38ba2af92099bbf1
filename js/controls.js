// The form: prompt, model, resolution, aspect ratio (with shape icons), format, grounding,
// the run button (generate or edit the selected image), Stop and the live status line.
import { h, seconds } from "./dom.js";

const FORM = ["image_model", "resolution", "output_format"];
// the aspect ratios shown as chips; the others (21:9, 4:1, 1:8, ...) are in the "more…" menu
const COMMON = ["match_input_image", "1:1", "4:5", "3:2", "2:3", "16:9", "9:16"];

export function controls({ model, channel, report }) {
  const prompt = h("textarea", {
    class: "nb2-prompt",
    rows: 3,
    placeholder: "Describe the image (Ctrl/Cmd+Enter to run)",
    "aria-label": "prompt",
  });
  const selects = Object.fromEntries(
    FORM.map((name) => [name, h("select", { class: `nb2-${name}`, "aria-label": name })]),
  );
  const ratios = h("div", { class: "nb2-ratios", role: "radiogroup", "aria-label": "aspect ratio" });
  const web = h("input", { type: "checkbox", class: "nb2-google-search" });
  const images = h("input", { type: "checkbox", class: "nb2-image-search" });
  const modeGenerate = h("button", { class: "nb2-mode nb2-mode-generate", type: "button", text: "New image" });
  const modeEdit = h("button", { class: "nb2-mode nb2-mode-edit", type: "button", text: "Edit selected" });
  const run = h("button", { class: "nb2-run nb2-primary", type: "button" });
  const stop = h("button", { class: "nb2-stop", type: "button", text: "Stop", disabled: true });
  const status = h("div", { class: "nb2-status", role: "status", "aria-live": "polite" });
  const composed = h("pre", { class: "nb2-composed", title: "the prompt as it will be sent" });

  const more = h("select", { class: "nb2-ratio-more", "aria-label": "more aspect ratios" });
  more.addEventListener("change", () => more.value && set("aspect_ratio", more.value));

  const field = (label, control) => h("label", { class: "nb2-field" }, label, control);
  const el = h(
    "div",
    { class: "nb2-controls" },
    prompt,
    h("div", { class: "nb2-fields" },
      field("model", selects.image_model),
      field("resolution", selects.resolution),
      field("format", selects.output_format),
    ),
    h("div", { class: "nb2-row" },
      h("label", { class: "nb2-toggle" }, web, "web search"),
      h("label", { class: "nb2-toggle" }, images, "image search"),
    ),
    h("div", { class: "nb2-field" }, "aspect ratio", ratios),
    h("details", { class: "nb2-composed-box" }, h("summary", { text: "prompt as sent" }), composed),
    h("div", { class: "nb2-actions" },
      h("div", { class: "nb2-segmented" }, modeGenerate, modeEdit), run, stop),
    status,
  );

  // -- model -> view ----------------------------------------------------------------------
  function fill(select, values, current, label = (v) => v) {
    const key = values.join("|");
    if (select.dataset.values !== key) {
      select.replaceChildren(...values.map((v) => h("option", { value: v, text: label(v) })));
      select.dataset.values = key;
    }
    select.value = current;
    select.disabled = values.length === 0;
  }

  function renderForm() {
    const choices = model.get("choices");
    const spec = choices.models[model.get("image_model")];
    fill(selects.image_model, Object.keys(choices.models), model.get("image_model"),
      (id) => `${id.split("/").pop()}`);
    fill(selects.resolution, spec.resolutions, model.get("resolution"));
    fill(selects.output_format, spec.formats, model.get("output_format"));
    const current = model.get("aspect_ratio");
    const key = spec.aspect_ratios.join("|");
    if (ratios.dataset.values !== key) {
      // the common ratios as chips on one row; the rest in a menu at its end
      const chips = spec.aspect_ratios.filter((r) => COMMON.includes(r));
      const rest = spec.aspect_ratios.filter((r) => !COMMON.includes(r));
      more.replaceChildren(h("option", { value: "", text: "more…" }),
        ...rest.map((r) => h("option", { value: r, text: r })));
      more.hidden = rest.length === 0;
      ratios.replaceChildren(...chips.map((ratio) => ratioButton(ratio)), more);
      ratios.dataset.values = key;
    }
    for (const button of ratios.querySelectorAll(".nb2-ratio")) {
      button.setAttribute("aria-checked", String(button.dataset.ratio === current));
    }
    const other = !COMMON.includes(current);
    more.value = other ? current : "";
    more.classList.toggle("nb2-on", other);
    web.checked = model.get("google_search");
    images.checked = model.get("image_search");
    web.disabled = !spec.google_search;
    images.disabled = !spec.image_search;
    // image search turns web search on: show web search as locked on while it does
    web.title = images.checked ? "on because image search needs it" : "Google web search grounding";
    if (document.activeElement !== prompt) prompt.value = model.get("prompt");
    renderMode();
  }

  function ratioButton(ratio) {
    const [w, h_] = ratio.includes(":") ? ratio.split(":").map(Number) : [0, 0];
    const scale = 14 / Math.max(w, h_, 1);
    const shape = w
      ? h("span", { class: "nb2-shape", style: { width: `${Math.max(3, w * scale)}px`, height: `${Math.max(3, h_ * scale)}px` } })
      : h("span", { class: "nb2-shape nb2-shape-match", text: "⧉" });
    return h("button", {
      type: "button",
      role: "radio",
      class: "nb2-ratio",
      dataset: { ratio },
      title: ratio === "match_input_image" ? "match the input image" : ratio,
      onclick: () => set("aspect_ratio", ratio),
    }, shape, h("span", { text: ratio === "match_input_image" ? "match" : ratio }));
  }

  function renderMode() {
    const editing = model.get("mode") === "edit";
    const selected = model.get("history").find((n) => n.id === model.get("selected"));
    modeEdit.disabled = !selected;
    modeGenerate.setAttribute("aria-pressed", String(!editing));
    modeEdit.setAttribute("aria-pressed", String(editing));
    run.textContent = editing && selected ? `Edit #${selected.number}` : "Generate";
    prompt.placeholder = editing
      ? "What to change in the selected image (Ctrl/Cmd+Enter to apply)"
      : "Describe the image (Ctrl/Cmd+Enter to generate)";
  }

  let ticker = null;
  function renderStatus() {
    const s = model.get("status") ?? { state: "idle" };
    const running = s.state === "running";
    run.disabled = running;
    stop.disabled = !running;
    status.dataset.state = s.state;
    clearInterval(ticker);
    ticker = null;
    if (running) {
      const tick = () => {
        const elapsed = (Date.now() - s.started) / 1000;
        status.textContent = `${s.kind}: ${s.phase ?? "queued"} · ${seconds(Math.max(0, elapsed))}`;
      };
      tick();
      ticker = setInterval(tick, 250);
    } else if (s.state === "idle") {
      status.textContent = "";
    } else {
      status.textContent = `${s.message ?? s.state}${s.elapsed !== undefined ? ` · ${seconds(s.elapsed)}` : ""}`;
    }
  }

  function renderComposed() {
    composed.textContent = model.get("composed_prompt");
  }

  // -- view -> model ----------------------------------------------------------------------
  function set(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  let typing = null;
  prompt.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => set("prompt", prompt.value), 150);
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation(); // the notebook would run the cell
      start();
    }
  });
  selects.image_model.addEventListener("change", () => set("image_model", selects.image_model.value));
  selects.resolution.addEventListener("change", () => set("resolution", selects.resolution.value));
  selects.output_format.addEventListener("change", () => set("output_format", selects.output_format.value));
  web.addEventListener("change", () => {
    model.set("google_search", web.checked);
    if (!web.checked) model.set("image_search", false);
    model.save_changes();
  });
  images.addEventListener("change", () => {
    model.set("image_search", images.checked);
    if (images.checked) model.set("google_search", true);
    model.save_changes();
  });
  modeGenerate.addEventListener("click", () => set("mode", "generate"));
  modeEdit.addEventListener("click", () => set("mode", "edit"));
  run.addEventListener("click", () => start());
  stop.addEventListener("click", () => channel.request("stop").catch(report));

  function start() {
    clearTimeout(typing);
    model.set("prompt", prompt.value); // the text as it is now, not as of the last debounce
    model.save_changes();
    const kind = model.get("mode") === "edit" && model.get("selected") ? "edit" : "generate";
    channel.request(kind).catch(report);
  }

  const events = [
    ["change:choices change:image_model change:resolution change:aspect_ratio change:output_format change:google_search change:image_search change:prompt change:mode change:selected change:history", renderForm],
    ["change:status", renderStatus],
    ["change:composed_prompt", renderComposed],
  ];
  for (const [name, fn] of events) model.on(name, fn);
  renderForm();
  renderStatus();
  renderComposed();

  return {
    el,
    cleanup() {
      for (const [name, fn] of events) model.off(name, fn);
      clearInterval(ticker);
      clearTimeout(typing);
    },
  };
}
