// nb2's gallery: the whole store as a page of thumbnails, a search box and filters, a detail
// view (the image large, parameters, lineage, the %%nb2 cell with a copy button) and actions.
// Python owns the state (one indexed query per page); this module draws it and sends
// commands ({id, kind}) over the model's message channel.
import "./gallery.css";
import { h, UrlCache } from "../dom.js";
import { channelOf, openChannel } from "../rpc.js";

const SINCE = [["", "any time"], ["1d", "last day"], ["7d", "last 7 days"], ["30d", "last 30 days"]];
const SORTS = { time: "newest", oldest: "oldest", cost: "cost: high first", cheapest: "cost: low first" };

function initialize({ model }) {
  return openChannel(model);
}

function render({ model, el }) {
  const channel = channelOf(model);
  const urls = new UrlCache();
  const errors = h("div", { class: "nb2g-errors", role: "alert" });
  const notice = h("div", { class: "nb2g-notice", role: "status" });
  const root = h("div", { class: "nb2g", tabindex: "-1", "data-lm-suppress-shortcuts": "true" });
  let picked = []; // run ids chosen for comparison

  function report(error) {
    errors.replaceChildren(h("div", { class: "nb2g-error", text: error.message }));
  }
  function ask(kind, payload) {
    errors.replaceChildren();
    return channel.request(kind, payload).catch(report);
  }

  // -- the search bar ------------------------------------------------------------------------
  const text = h("input", { type: "search", class: "nb2g-search", placeholder: "search prompts…", "aria-label": "search prompts", value: model.get("text") });
  const selects = {};
  function select(name, label, options) {
    const s = h("select", { class: `nb2g-filter nb2g-${name}`, "aria-label": label, onchange: () => search(0) },
      options.map(([value, shown]) => h("option", { value, text: shown })));
    selects[name] = s;
    return s;
  }
  function buildFilters() {
    const c = model.get("choices");
    const any = (label) => [["", label]];
    const bar = h("div", { class: "nb2g-filters" },
      select("model", "model", any("any model").concat((c.models ?? []).map((m) => [m, m.split("/").pop()]))),
      select("resolution", "resolution", any("any size").concat((c.resolutions ?? []).map((r) => [r, r]))),
      select("aspect_ratio", "aspect ratio", any("any ratio").concat((c.aspect_ratios ?? []).map((r) => [r, r]))),
      select("output_format", "format", any("any format").concat((c.formats ?? []).map((f) => [f, f]))),
      select("google_search", "web search", [["", "search: any"], ["true", "search on"], ["false", "search off"]]),
      select("session", "session", any("any session").concat((c.sessions ?? []).map((s) => [s, s]))),
      select("since", "since", SINCE),
      select("sort", "sort", Object.entries(SORTS)));
    const f = model.get("filters") ?? {};
    for (const [name, s] of Object.entries(selects)) if (f[name] !== undefined) s.value = String(f[name]);
    return bar;
  }
  function filters() {
    const out = {};
    for (const [name, s] of Object.entries(selects)) {
      if (!s.value) continue;
      out[name] = name === "google_search" ? s.value === "true" : s.value;
    }
    return out;
  }
  function search(page) {
    return ask("search", { text: text.value, filters: filters(), page });
  }
  let timer = null;
  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(0), 250);
  });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      clearTimeout(timer);
      search(0);
    }
  });
  const prev = h("button", { type: "button", class: "nb2g-prev", text: "‹ prev", onclick: () => search(model.get("page") - 1) });
  const next = h("button", { type: "button", class: "nb2g-next", text: "next ›", onclick: () => search(model.get("page") + 1) });
  const count = h("span", { class: "nb2g-count" });

  // -- the grid ------------------------------------------------------------------------------
  const grid = h("div", { class: "nb2g-grid", role: "list" });
  function card(item) {
    const chosen = picked.indexOf(item.id);
    const meta = [item.model.split("/").pop(), item.resolution, item.aspect_ratio, item.search ? "search" : "", item.offline ? "OFFLINE" : ""].filter(Boolean).join(" · ");
    return h("div", { class: `nb2g-card${item.id === model.get("selected") ? " nb2g-selected" : ""}${chosen >= 0 ? " nb2g-picked" : ""}`, role: "listitem", dataset: { id: item.id } },
      h("button", { type: "button", class: "nb2g-thumb", title: item.prompt, onclick: () => ask("select", { run: item.id }) },
        h("img", { src: urls.get(`t:${item.id}`, item.thumb), alt: item.prompt.slice(0, 80) })),
      h("div", { class: "nb2g-caption", text: item.prompt }),
      h("div", { class: "nb2g-meta", text: meta }),
      h("label", { class: "nb2g-pick" },
        h("input", { type: "checkbox", checked: chosen >= 0, onchange: (e) => pick(item.id, e.target.checked) }),
        " compare"));
  }
  function pick(id, on) {
    picked = picked.filter((x) => x !== id);
    if (on) picked.push(id);
    if (picked.length > 2) picked = picked.slice(-2);
    if (picked.length === 2) ask("compare", { runs: picked });
    drawGrid();
  }
  function drawGrid() {
    const items = model.get("items");
    const total = model.get("total");
    const size = model.get("page_size");
    const page = model.get("page");
    const pages = Math.max(1, Math.ceil(total / size));
    count.textContent = `${total} run${total === 1 ? "" : "s"} · page ${page + 1} of ${pages}`;
    prev.disabled = page <= 0;
    next.disabled = page + 1 >= pages;
    urls.prune(new Set(items.map((i) => `t:${i.id}`).concat([...urls.urls.keys()].filter((k) => !k.startsWith("t:")))));
    grid.replaceChildren(...(items.length ? items.map(card) : [h("div", { class: "nb2g-empty", text: "no runs match" })]));
  }

  // -- the detail view -----------------------------------------------------------------------
  const detail = h("div", { class: "nb2g-detail" });
  function drawDetail() {
    const d = model.get("detail");
    if (!d || !d.id) {
      detail.replaceChildren();
      detail.hidden = true;
      return;
    }
    detail.hidden = false;
    const rows = [["model", d.model], ["size", `${d.width}×${d.height} (${d.resolution || "default"}, ${d.aspect_ratio})`], ["format", d.format],
      ["grounding", d.image_search ? "web + image search" : d.search ? "web search" : "off"], ["kind", d.kind], ["session", d.session],
      ["made", d.requested_at.replace("T", " ").slice(0, 19)], ["time", d.wall_time ? `${d.wall_time.toFixed(1)} s` : ""],
      ["cost", d.offline ? "offline (no cost)" : `$${d.cost.toFixed(3)}`], ["run", d.id],
      ["references", d.references.map((r) => (r.role ? `${r.name} (${r.role})` : r.name)).join(", ")]];
    const code = h("pre", { class: "nb2g-cell", text: d.cell });
    const copy = h("button", { type: "button", class: "nb2g-copy", text: "Copy", onclick: async () => {
      try {
        await navigator.clipboard.writeText(d.cell);
        copy.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        copy.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => (copy.textContent = "Copy"), 1500);
    } });
    const lineage = d.lineage.length
      ? h("div", { class: "nb2g-lineage" }, h("span", { class: "nb2g-label", text: "made from" }),
        d.lineage.map((a) => h("button", { type: "button", class: "nb2g-ancestor", title: `${a.kind}: ${a.prompt}`, onclick: () => ask("select", { run: a.id }) },
          h("img", { src: urls.get(`a:${a.id}`, a.thumb), alt: a.prompt.slice(0, 60) }))))
      : null;
    detail.replaceChildren(...[
      h("div", { class: "nb2g-detail-head" },
        h("b", { text: "Run" }),
        h("button", { type: "button", class: "nb2g-close", text: "×", title: "close", onclick: () => { model.set("detail", {}); model.save_changes(); } })),
      h("img", { class: "nb2g-large", src: urls.get("detail", model.get("image")), alt: d.prompt.slice(0, 80) }),
      h("div", { class: "nb2g-prompt", text: d.prompt }),
      h("table", { class: "nb2g-params" }, rows.filter(([, v]) => v).map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: String(v) })))),
      lineage,
      h("div", { class: "nb2g-actions" },
        h("button", { type: "button", class: "nb2g-reuse", text: "Reuse these parameters", onclick: () => ask("reuse", { run: d.id }) }),
        h("button", { type: "button", class: "nb2g-continue", text: "Continue editing from here", onclick: () => ask("continue", { run: d.id }) }),
        h("button", { type: "button", class: "nb2g-compare-with", text: "Compare with…", onclick: () => pick(d.id, true) })),
      h("div", { class: "nb2g-cell-head" }, h("span", { class: "nb2g-label", text: "the cell that makes it again" }), copy),
      code].filter(Boolean));
  }

  // -- comparing two runs --------------------------------------------------------------------
  const compare = h("div", { class: "nb2g-compare" });
  function drawCompare() {
    const pair = model.get("compare");
    const images = model.get("compare_images");
    if (!pair || pair.length !== 2) {
      compare.replaceChildren();
      compare.hidden = true;
      return;
    }
    compare.hidden = false;
    const keys = ["prompt", "model", "resolution", "aspect_ratio", "format", "search", "cost", "session"];
    compare.replaceChildren(
      h("div", { class: "nb2g-detail-head" }, h("b", { text: "Compare" }),
        h("button", { type: "button", class: "nb2g-close", text: "×", title: "close", onclick: () => { picked = []; ask("compare", { runs: [] }); drawGrid(); } })),
      h("div", { class: "nb2g-side" }, pair.map((d, i) => h("figure", {},
        h("img", { src: urls.get(`c:${i}:${d.id}`, images[i]), alt: d.prompt.slice(0, 60) }),
        h("figcaption", { text: d.id })))),
      h("table", { class: "nb2g-params" }, keys.map((k) => {
        const [a, b] = pair.map((d) => String(d[k]));
        return h("tr", { class: a === b ? "" : "nb2g-differs" }, h("th", { text: k }), h("td", { text: a }), h("td", { text: b }));
      })));
  }

  const sidePane = h("div", { class: "nb2g-side-pane" }, compare, detail);
  function drawSide() {
    sidePane.hidden = detail.hidden && compare.hidden; // the grid takes the width alone
  }
  function drawNotice() {
    notice.textContent = model.get("notice");
  }

  root.append(
    h("div", { class: "nb2g-bar" }, text, buildFilters(), h("div", { class: "nb2g-pages" }, prev, count, next)),
    errors, notice,
    h("div", { class: "nb2g-body" }, grid, sidePane));
  drawGrid();
  drawDetail();
  drawCompare();
  drawSide();
  drawNotice();
  const events = {
    "change:items change:total change:page change:selected": drawGrid,
    "change:detail change:image": () => { drawDetail(); drawSide(); },
    "change:compare change:compare_images": () => { drawCompare(); drawSide(); },
    "change:notice": drawNotice,
  };
  for (const [name, fn] of Object.entries(events)) model.on(name, fn);
  const offError = channel.onError(report);
  el.append(root);
  return () => {
    for (const [name, fn] of Object.entries(events)) model.off(name, fn);
    offError();
    clearTimeout(timer);
    urls.clear();
    root.remove();
  };
}

export default { initialize, render };
