// Two nodes side by side, and over each other with a wipe slider.
import { h } from "./dom.js";

export function comparePane({ model, channel, report, urls }) {
  const a = h("img", { class: "nb2-cmp-a", alt: "A" });
  const b = h("img", { class: "nb2-cmp-b", alt: "B" });
  const wipeA = h("img", { class: "nb2-wipe-a", alt: "A" });
  const wipeB = h("img", { class: "nb2-wipe-b", alt: "B" });
  const slider = h("input", { type: "range", min: "0", max: "100", value: "50", class: "nb2-wipe-slider", "aria-label": "wipe" });
  const captionA = h("div", { class: "nb2-cmp-caption" });
  const captionB = h("div", { class: "nb2-cmp-caption" });
  const close = h("button", { type: "button", class: "nb2-compare-close", text: "Close comparison",
    onclick: () => channel.request("compare", { nodes: [] }).catch(report) });
  const line = h("div", { class: "nb2-wipe-line" });
  const tagA = h("span", { class: "nb2-wipe-tag nb2-wipe-tag-a", text: "A" });
  const tagB = h("span", { class: "nb2-wipe-tag nb2-wipe-tag-b", text: "B" });
  const el = h("div", { class: "nb2-compare" },
    h("div", { class: "nb2-row" }, h("span", { class: "nb2-section", text: "Compare" }), close),
    h("div", { class: "nb2-side" }, h("figure", {}, a, captionA), h("figure", {}, b, captionB)),
    h("div", { class: "nb2-wipe" }, wipeA, wipeB, line, tagA, tagB),
    slider);

  function wipe() {
    wipeB.style.clipPath = `inset(0 0 0 ${slider.value}%)`;
    line.style.left = `${slider.value}%`; // the divider sits where A ends and B begins
  }
  slider.addEventListener("input", wipe);

  function render() {
    const ids = model.get("compare");
    const images = model.get("compare_images");
    el.hidden = ids.length !== 2 || images.length !== 2;
    if (el.hidden) return;
    const nodes = ids.map((id) => model.get("history").find((n) => n.id === id));
    const [ua, ub] = [urls.get("cmp:a", images[0]), urls.get("cmp:b", images[1])];
    a.src = wipeA.src = ua;
    b.src = wipeB.src = ub;
    captionA.textContent = nodes[0] ? `A: #${nodes[0].number} ${nodes[0].prompt}` : "A";
    captionB.textContent = nodes[1] ? `B: #${nodes[1].number} ${nodes[1].prompt}` : "B";
    tagA.textContent = nodes[0] ? `A · #${nodes[0].number}` : "A";
    tagB.textContent = nodes[1] ? `B · #${nodes[1].number}` : "B";
    wipe();
  }

  model.on("change:compare change:compare_images", render);
  render();
  return { el, cleanup: () => model.off("change:compare change:compare_images", render) };
}
