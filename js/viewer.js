// The selected image, large, with its parameters, time and cost; download full size;
// re-run at another resolution (the resolution ladder).
import { h, seconds } from "./dom.js";

export function viewer({ model, channel, report, urls, startCompare }) {
  const img = h("img", { class: "nb2-view-img", alt: "selected image" });
  const meta = h("div", { class: "nb2-view-meta" });
  const actions = h("div", { class: "nb2-row nb2-view-actions" });
  const el = h("div", { class: "nb2-viewer" }, img, meta, actions);

  function render() {
    const node = model.get("history").find((n) => n.id === model.get("selected"));
    if (!node) {
      img.removeAttribute("src");
      el.hidden = true;
      return;
    }
    el.hidden = false;
    img.src = urls.get("view", model.get("image"));
    img.alt = `#${node.number}: ${node.prompt}`;
    const parent = model.get("history").find((n) => n.id === node.parent);
    const kind = node.kind === "edit" && parent ? `edit of #${parent.number}` : node.kind;
    const ratio = node.aspect_ratio === "match_input_image" ? "as the input" : node.aspect_ratio;
    const lines = [
      [`#${node.number} ${kind}`, "nb2-view-title"],
      [node.prompt, "nb2-view-prompt"],
      [`${node.width} × ${node.height} px · ${ratio}${node.resolution ? ` · ${node.resolution}` : ""} · ${node.format.toUpperCase()} · ${node.model.split("/")[1]}`, ""],
      [[node.google_search ? (node.image_search ? "web + image search" : "web search") : "",
        node.time !== null && node.time !== undefined ? seconds(node.time) : "",
        node.offline ? "offline stand-in ($0)" : `est. $${node.cost.toFixed(3)}`,
        node.cached ? "from the store" : ""].filter(Boolean).join(" · "), ""],
    ];
    if (node.references.length) lines.push([`references: ${node.references.join(", ")}`, ""]);
    meta.replaceChildren(...lines.map(([line, cls]) => h("div", { class: cls, text: line })));
    const resolutions = model.get("choices").models[node.model].resolutions.filter((r) => r !== node.resolution);
    actions.replaceChildren(
      h("button", { type: "button", class: "nb2-download", text: "Download full size", onclick: () => download(node) }),
      ...resolutions.map((r) => h("button", { type: "button", class: "nb2-rerun", dataset: { resolution: r }, text: `Re-run at ${r}`,
        onclick: () => channel.request("upscale", { node: node.id, resolution: r }).catch(report) })),
      h("button", { type: "button", class: "nb2-compare-start", text: "Compare with…", onclick: () => startCompare(node) }),
    );
  }

  async function download(node) {
    try {
      const { msg, buffers } = await channel.request("download", { node: node.id });
      const url = URL.createObjectURL(new Blob([buffers[0]], { type: msg.mime }));
      const a = h("a", { href: url, download: msg.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      report(error);
    }
  }

  model.on("change:image change:selected change:history", render);
  render();
  return { el, cleanup: () => model.off("change:image change:selected change:history", render) };
}
