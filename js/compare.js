// Two nodes compared three ways: side by side, over each other with a wipe slider, and the
// difference map Python computes (nb2.diff: where the pixels changed, the share changed, SSIM).
import { h } from "./dom.js";

const MODES = [["side", "Side by side"], ["wipe", "Wipe"], ["diff", "Difference"]];

// "12% changed, SSIM 0.91": shares under 1% keep a decimal, so a small local edit is not "0%"
export function diffFigures(changed, ssim) {
  const p = changed * 100;
  const share = p === 0 ? "0%" : p < 1 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
  return `${share} changed, SSIM ${ssim.toFixed(2)}`;
}

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
  const diffImg = h("img", { class: "nb2-diff-img", alt: "difference map" });
  const mapBox = h("div", { class: "nb2-diff-map" }); // holds the map once it has come
  const figures = h("div", { class: "nb2-diff-figures", role: "status" });
  const diffNote = h("div", { class: "nb2-cmp-caption nb2-diff-note" });
  const buttons = MODES.map(([mode, label]) => h("button", {
    type: "button", class: "nb2-cmp-mode", dataset: { mode }, text: label, onclick: () => setMode(mode),
  }));
  const panes = {
    side: h("div", { class: "nb2-side" }, h("figure", {}, a, captionA), h("figure", {}, b, captionB)),
    wipe: h("div", { class: "nb2-wipe-box" }, h("div", { class: "nb2-wipe" }, wipeA, wipeB, line, tagA, tagB), slider),
    diff: h("div", { class: "nb2-diff" }, figures, mapBox, diffNote),
  };
  const el = h("div", { class: "nb2-compare" },
    h("div", { class: "nb2-row" }, h("span", { class: "nb2-section", text: "Compare" }),
      h("div", { class: "nb2-segmented nb2-cmp-modes", role: "group", "aria-label": "compare mode" }, ...buttons), close),
    panes.side, panes.wipe, panes.diff);

  let mode = "side";
  let shown = ""; // the pair whose difference map is shown (or asked for)

  function wipe() {
    wipeB.style.clipPath = `inset(0 0 0 ${slider.value}%)`;
    line.style.left = `${slider.value}%`; // the divider sits where A ends and B begins
  }
  slider.addEventListener("input", wipe);

  function setMode(next) {
    mode = next;
    el.dataset.mode = mode;
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
    for (const [name, pane] of Object.entries(panes)) pane.hidden = name !== mode;
    if (mode === "diff") difference();
  }

  // asked for once per pair; a reply for a pair no longer compared is dropped
  async function difference() {
    const ids = model.get("compare");
    const key = ids.join("|");
    if (ids.length !== 2 || key === shown) return;
    shown = key;
    delete el.dataset.changed;
    delete el.dataset.ssim;
    figures.textContent = "computing the difference…";
    mapBox.replaceChildren();
    try {
      const { msg, buffers } = await channel.request("diff", { nodes: ids });
      if (shown !== key) return;
      diffImg.src = urls.get("cmp:diff", buffers[0]);
      mapBox.replaceChildren(diffImg);
      figures.textContent = diffFigures(msg.changed, msg.ssim);
      el.dataset.changed = String(msg.changed);
      el.dataset.ssim = String(msg.ssim);
      diffNote.textContent = "B's picture in grey, what changed from A in red (brighter = more)";
    } catch (error) {
      if (shown === key) shown = "";
      figures.textContent = "";
      report(error);
    }
  }

  function render() {
    const ids = model.get("compare");
    const images = model.get("compare_images");
    el.hidden = ids.length !== 2 || images.length !== 2;
    if (el.hidden) {
      shown = "";
      return;
    }
    const nodes = ids.map((id) => model.get("history").find((n) => n.id === id));
    const [ua, ub] = [urls.get("cmp:a", images[0]), urls.get("cmp:b", images[1])];
    a.src = wipeA.src = ua;
    b.src = wipeB.src = ub;
    captionA.textContent = nodes[0] ? `A: #${nodes[0].number} ${nodes[0].prompt}` : "A";
    captionB.textContent = nodes[1] ? `B: #${nodes[1].number} ${nodes[1].prompt}` : "B";
    tagA.textContent = nodes[0] ? `A · #${nodes[0].number}` : "A";
    tagB.textContent = nodes[1] ? `B · #${nodes[1].number}` : "B";
    wipe();
    if (mode === "diff") difference();
  }

  model.on("change:compare change:compare_images", render);
  setMode(mode);
  render();
  return { el, cleanup: () => model.off("change:compare change:compare_images", render) };
}
