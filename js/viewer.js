// The selected image, large, with its parameters, time and cost; download full size;
// re-run at another resolution (the resolution ladder); rate it (five stars, or keys 1-5 and 0
// while the viewer has focus; Python stores the rating and sends the history back).
import { h, seconds } from "./dom.js";

const STAR = "\u2605";
const HOLLOW = "\u2606";

export function viewer({ model, channel, report, urls, startCompare }) {
  const img = h("img", { class: "nb2-view-img", alt: "selected image" });
  const meta = h("div", { class: "nb2-view-meta" });
  const actions = h("div", { class: "nb2-row nb2-view-actions" });
  const stars = [1, 2, 3, 4, 5].map((n) => h("button", {
    type: "button", class: "nb2-star", dataset: { score: String(n) }, title: `rate ${n} (key ${n})`,
    onclick: () => rate(Number(stars[n - 1].dataset.current) === n ? 0 : n),
  }));
  const rating = h("div", { class: "nb2-rating", role: "group", "aria-label": "rating" }, ...stars,
    h("span", { class: "nb2-rating-hint" }));
  // focusable, so its keys are the viewer's: a click on the image or a star gives it focus
  const el = h("div", { class: "nb2-viewer", tabindex: "0" }, img, rating, meta, actions);

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
      [`${node.width} × ${node.height} px · ${ratio}${node.resolution ? ` · ${node.resolution}` : ""} · ${node.format.toUpperCase()} · ${node.model.split("/").pop()}`, ""],
      [[node.google_search ? (node.image_search ? "web + image search" : "web search") : "",
        node.time !== null && node.time !== undefined ? seconds(node.time) : "",
        node.offline ? "offline stand-in ($0)" : node.cost_exact ? `$${node.cost.toFixed(4)}` : `est. $${node.cost.toFixed(3)}`,
        node.cached ? "from the store" : ""].filter(Boolean).join(" · "), ""],
    ];
    drawRating(node.rating ?? 0);
    if (node.references.length) lines.push([`references: ${node.references.join(", ")}`, ""]);
    const rows = lines.map(([line, cls]) => h("div", { class: cls, text: line }));
    const sources = (node.grounding && node.grounding.sources) || [];
    if (sources.length) {
      // what a grounded answer read: text nodes (escaped), and only http(s) addresses as links
      const link = (s) => /^https?:\/\//.test(s.uri || "")
        ? h("a", { href: s.uri, target: "_blank", rel: "noopener", text: s.title || s.domain || s.uri })
        : h("span", { text: s.title || s.domain || s.uri || "" });
      rows.push(h("div", { class: "nb2-view-sources" }, "sources: ",
        ...sources.slice(0, 8).flatMap((s, i) => (i ? [" · ", link(s)] : [link(s)]))));
    }
    meta.replaceChildren(...rows);
    const resolutions = model.get("choices").models[node.model].resolutions.filter((r) => r !== node.resolution);
    actions.replaceChildren(
      h("button", { type: "button", class: "nb2-download", text: "Download full size", onclick: () => download(node) }),
      ...resolutions.map((r) => h("button", { type: "button", class: "nb2-rerun", dataset: { resolution: r }, text: `Re-run at ${r}`,
        onclick: () => channel.request("upscale", { node: node.id, resolution: r }).catch(report) })),
      h("button", { type: "button", class: "nb2-compare-start", text: "Compare with…", onclick: () => startCompare(node) }),
    );
  }

  function drawRating(score) {
    rating.dataset.rating = String(score);
    for (const star of stars) {
      const n = Number(star.dataset.score);
      star.dataset.current = String(score);
      star.textContent = n <= score ? STAR : HOLLOW;
      star.setAttribute("aria-pressed", String(n <= score));
      star.classList.toggle("nb2-on", n <= score);
    }
    rating.lastChild.textContent = score ? "click the same star to clear (key 0)" : "rate: click a star or press 1-5";
  }

  function rate(score) {
    const node = model.get("selected");
    if (node) channel.request("rate", { node, score }).catch(report);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !/^[0-5]$/.test(event.key)) return;
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
    event.preventDefault();
    event.stopPropagation(); // the notebook's "1" would make the cell a heading
    rate(Number(event.key));
  }
  el.addEventListener("keydown", onKey);

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
  return {
    el,
    cleanup() {
      model.off("change:image change:selected change:history", render);
      el.removeEventListener("keydown", onKey);
    },
  };
}
