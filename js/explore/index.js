// nb2's grid explorer: two axes as rows and columns (chosen in the header), the other axes as
// selectors, a cell's samples (repeat=N) side by side. A click opens an image large; there a
// star or a key (1-5, 0 clears, Esc closes) rates it. Python stores the rating. A judged image
// carries its judge score, coloured by band; sort "score" puts the best rows, columns and
// samples first (unjudged last).
import "./explore.css";
import { h, UrlCache } from "../dom.js";
import { channelOf, openChannel } from "../rpc.js";

const STAR = "★";
const HOLLOW = "☆";

function initialize({ model }) {
  return openChannel(model);
}

function render({ model, el }) {
  const channel = channelOf(model);
  const urls = new UrlCache();
  const picks = {}; // axis -> label shown, for the axes that are neither rows nor columns
  const error = h("div", { class: "nb2-explore-error", role: "alert", hidden: true });
  const head = h("div", { class: "nb2-explore-head" });
  const grid = h("div", { class: "nb2-explore-grid" });
  const large = h("div", { class: "nb2-explore-large", hidden: true });
  const root = h("div", { class: "nb2-explore", tabindex: "0", "data-lm-suppress-shortcuts": "true" }, head, error, large, grid);

  function report(e) {
    error.textContent = e.message;
    error.hidden = false;
  }
  const ask = (kind, payload) => channel.request(kind, payload).then(() => { error.hidden = true; }).catch(report);

  // A label as shown: a prompt's code (P1) with its text, the whole prompt as the title.
  function named(axis, label) {
    const i = axis && axis.texts ? axis.labels.indexOf(label) : -1;
    return i < 0 ? { text: label } : { text: `${label} · ${axis.texts[i]}`, title: axis.titles[i] };
  }

  function select(name, value, options, onchange, axis = null) {
    return h("label", {}, `${name} `,
      h("select", { class: `nb2-explore-${name}`, onchange: (e) => onchange(e.target.value) },
        ...options.map((o) => h("option", { value: o, ...named(axis, o), selected: o === value }))));
  }

  function drawHead() {
    const axes = model.get("axes");
    const names = axes.map((a) => a.name);
    const rows = model.get("rows");
    const cols = model.get("cols");
    const parts = [
      select("rows", rows, ["", ...names], (v) => { model.set("rows", v); model.save_changes(); }),
      select("cols", cols, ["", ...names], (v) => { model.set("cols", v); model.save_changes(); }),
    ];
    if (model.get("cells").some((c) => c.score != null)) {
      parts.push(h("label", {}, "sort ",
        h("select", { class: "nb2-explore-sort", onchange: (e) => { model.set("sort", e.target.value); model.save_changes(); } },
          h("option", { value: "", text: "axes", selected: model.get("sort") === "" }),
          h("option", { value: "score", text: "judge score", selected: model.get("sort") === "score" }))));
    }
    for (const axis of axes) {
      if (axis.name === rows || axis.name === cols) continue;
      if (!axis.labels.includes(picks[axis.name])) picks[axis.name] = axis.labels[0];
      parts.push(select(axis.name, picks[axis.name], axis.labels, (v) => { picks[axis.name] = v; drawGrid(); }, axis));
    }
    head.replaceChildren(...parts);
  }

  function stars(rating) {
    return rating ? STAR.repeat(rating) + HOLLOW.repeat(5 - rating) : "";
  }

  function judged(cell) {
    if (cell.score == null) return "";
    const failed = (cell.failed || []).join("; ");
    return `${cell.judge}: ${cell.score.toFixed(2)}` + (failed ? `; failed: ${failed}` : "");
  }

  function thumb(cell) {
    if (!cell.id) return h("span", { class: "nb2-explore-status", text: cell.status });
    const title = [cell.sample ? `sample ${cell.sample}` : "open", judged(cell)].filter(Boolean).join(" · ");
    return h("button", { type: "button", class: "nb2-explore-thumb", dataset: { run: cell.id, sample: cell.sample, band: cell.band || "" }, title, onclick: () => ask("open", { run: cell.id }) },
      h("img", { src: urls.get(cell.id, cell.thumb), alt: `image ${cell.sample}` }),
      h("span", { class: "nb2-explore-stars", dataset: { rating: cell.rating ?? "" }, text: stars(cell.rating) }),
      h("span", { class: "nb2-explore-score", dataset: { band: cell.band || "" }, text: cell.score == null ? "" : cell.score.toFixed(2) }));
  }

  // Best first by mean score; what has no score keeps its place after those that have.
  function byScore(labels, cellsOf) {
    const mean = (xs) => { const s = xs.filter((c) => c.score != null); return s.length ? s.reduce((a, c) => a + c.score, 0) / s.length : -1; };
    return labels.map((l, i) => [l, mean(cellsOf(l)), i]).sort((a, b) => b[1] - a[1] || a[2] - b[2]).map((x) => x[0]);
  }

  function drawGrid() {
    const axes = model.get("axes");
    const rows = model.get("rows");
    const cols = model.get("cols");
    const labelsOf = (name) => (axes.find((a) => a.name === name) || { labels: [""] }).labels;
    let rowLabels = rows ? labelsOf(rows) : [""];
    let colLabels = cols && cols !== rows ? labelsOf(cols) : [""];
    let cells = model.get("cells").filter((c) => axes.every((a) =>
      a.name === rows || a.name === cols || c.labels[a.name] === picks[a.name]));
    if (model.get("sort") === "score") {
      if (rows) rowLabels = byScore(rowLabels, (l) => cells.filter((c) => c.labels[rows] === l));
      if (cols && cols !== rows) colLabels = byScore(colLabels, (l) => cells.filter((c) => c.labels[cols] === l));
      cells = [...cells].sort((a, b) => (b.score ?? -1) - (a.score ?? -1));
    }
    const keep = new Set([...cells.map((c) => c.id), "large"]);
    urls.prune(keep);
    const header = (name, label) => {
      if (!name || !label) return h("th");
      const shown = named(axes.find((a) => a.name === name), label);
      return h("th", { text: `${name}=${shown.text}`, title: shown.title });
    };
    const table = h("table", {},
      h("tr", {}, h("th"), ...colLabels.map((c) => header(cols, c))),
      ...rowLabels.map((r) => h("tr", {},
        header(rows, r),
        ...colLabels.map((c) => {
          const here = cells.filter((x) => (!rows || x.labels[rows] === r) && (!cols || cols === rows || x.labels[cols] === c));
          return h("td", {}, h("div", { class: "nb2-explore-strip", dataset: { samples: String(here.length) } }, ...here.map(thumb)));
        }))));
    grid.replaceChildren(table);
  }

  function drawLarge() {
    const opened = model.get("opened");
    large.hidden = !opened || !opened.id;
    if (large.hidden) return large.replaceChildren();
    const rating = opened.rating || 0;
    const starButtons = [1, 2, 3, 4, 5].map((n) => h("button", {
      type: "button", class: "nb2-explore-star", dataset: { score: String(n) }, "aria-pressed": String(n <= rating),
      title: `rate ${n}`, text: n <= rating ? STAR : HOLLOW, onclick: () => ask("rate", { run: opened.id, score: n }),
    }));
    const labels = Object.entries(opened.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const verdict = opened.score == null ? [] : [h("div", { class: "nb2-explore-verdict", dataset: { band: opened.band } },
      h("span", { class: "nb2-explore-score", dataset: { band: opened.band }, text: opened.score.toFixed(2) }),
      ` ${opened.judge}` + ((opened.failed || []).length ? ` · failed: ${opened.failed.join("; ")}` : " · every question passed"))];
    large.replaceChildren(
      h("div", { class: "nb2-explore-large-bar" },
        h("span", { class: "nb2-explore-rating", dataset: { rating: String(rating) } }, ...starButtons),
        h("button", { type: "button", class: "nb2-explore-clear", text: "clear", onclick: () => ask("rate", { run: opened.id, score: 0 }) }),
        h("span", { class: "nb2-explore-labels", text: `${labels} · ${opened.size}` }),
        h("button", { type: "button", class: "nb2-explore-close", text: "×", title: "close (Esc)", onclick: () => ask("close", {}) })),
      h("div", { class: "nb2-explore-prompt", text: opened.prompt || "" }),
      ...verdict,
      h("img", { class: "nb2-explore-large-img", src: urls.get("large", model.get("large")), alt: "the opened image" }));
    root.focus();
  }

  function onKey(event) {
    const opened = model.get("opened");
    if (!opened || !opened.id || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") ask("close", {});
    else if (/^[0-5]$/.test(event.key)) ask("rate", { run: opened.id, score: Number(event.key) });
    else return;
    event.preventDefault();
    event.stopPropagation();
  }

  const redraw = () => { drawHead(); drawGrid(); };
  const draws = [["change:axes", redraw], ["change:rows", redraw], ["change:cols", redraw], ["change:sort", drawGrid],
    ["change:cells", drawGrid], ["change:opened", drawLarge], ["change:large", drawLarge]];
  for (const [event, fn] of draws) model.on(event, fn);
  root.addEventListener("keydown", onKey);
  redraw();
  drawLarge();
  el.append(root);
  return () => {
    for (const [event, fn] of draws) model.off(event, fn);
    root.removeEventListener("keydown", onKey);
    urls.clear();
    root.remove();
  };
}

export default { initialize, render };
