// nb2's Duel: two images, sides at random, nothing about them shown until the choice is made.
// Keys: ← left, → right, ↓ or t tie, s or space skip. Python stores each choice and picks the
// next pair; this module only draws and sends {id, kind: "choose", pair, choice}.
import "./duel.css";
import { h, UrlCache } from "../dom.js";
import { channelOf, openChannel } from "../rpc.js";

const KEYS = { ArrowLeft: "left", ArrowRight: "right", ArrowDown: "tie", t: "tie", s: "skip", " ": "skip" };
const SAID = { left: "left", right: "right", tie: "a tie", skip: "skipped" };

function initialize({ model }) {
  return openChannel(model);
}

function render({ model, el }) {
  const channel = channelOf(model);
  const urls = new UrlCache();
  let busy = false;

  const count = h("span", { class: "nb2-duel-count" });
  const error = h("div", { class: "nb2-duel-error", role: "alert", hidden: true });
  const imgL = h("img", { class: "nb2-duel-img", alt: "left image" });
  const imgR = h("img", { class: "nb2-duel-img", alt: "right image" });
  const button = (choice, text, cls) =>
    h("button", { type: "button", class: `nb2-duel-${cls}`, text, onclick: () => choose(choice) });
  const sides = h("div", { class: "nb2-duel-sides" },
    h("figure", { class: "nb2-duel-side nb2-duel-left", onclick: () => choose("left") }, imgL),
    h("figure", { class: "nb2-duel-side nb2-duel-right", onclick: () => choose("right") }, imgR));
  const buttons = h("div", { class: "nb2-duel-buttons" },
    button("left", "← Left", "choose-left"), button("tie", "↓ Tie", "choose-tie"),
    button("skip", "Skip (s)", "choose-skip"), button("right", "Right →", "choose-right"));
  const empty = h("div", { class: "nb2-duel-empty", text: "Nothing to compare: the images share one value of the axis.", hidden: true });
  const reveal = h("div", { class: "nb2-duel-reveal" });
  const table = h("table", { class: "nb2-duel-ranking" });
  const ranking = h("details", { class: "nb2-duel-ranking-box" }, h("summary", { text: "Ranking so far" }), table);
  const root = h("div", { class: "nb2-duel", tabindex: "0", "data-lm-suppress-shortcuts": "true" },
    h("div", { class: "nb2-duel-head" }, h("b", { text: "Which is better?" }),
      h("span", { class: "nb2-duel-keys", text: "← left · → right · ↓/t tie · s skip" }), count),
    error, empty, sides, buttons, reveal, ranking);

  function choose(choice) {
    const pair = model.get("pair");
    if (!pair || busy) return;
    busy = true;
    root.classList.add("nb2-duel-busy");
    channel.request("choose", { pair, choice })
      .then(() => { error.hidden = true; })
      .catch((e) => { error.textContent = e.message; error.hidden = false; })
      .finally(() => { busy = false; root.classList.remove("nb2-duel-busy"); });
  }

  function onKey(event) {
    const choice = KEYS[event.key];
    if (!choice || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    event.stopPropagation();
    choose(choice);
  }

  function drawPair() {
    const pair = model.get("pair");
    root.dataset.pair = pair;
    empty.hidden = Boolean(pair);
    sides.hidden = !pair;
    buttons.hidden = !pair;
    imgL.src = urls.get("left", model.get("left"));
    imgR.src = urls.get("right", model.get("right"));
  }

  function labels(obj) {
    return Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  }

  function drawReveal() {
    const r = model.get("reveal");
    reveal.replaceChildren();
    if (!r || !r.choice) return;
    reveal.dataset.choice = r.choice;
    reveal.append(
      h("div", { text: `Last pair: ${SAID[r.choice] || r.choice}` }),
      h("div", { class: r.choice === "left" ? "nb2-duel-won" : "", text: `left: ${labels(r.left)}` }),
      h("div", { class: r.choice === "right" ? "nb2-duel-won" : "", text: `right: ${labels(r.right)}` }));
  }

  function drawRanking() {
    const rows = model.get("ranking_rows") || [];
    count.textContent = `${model.get("done")} choices`;
    table.replaceChildren(h("tr", {}, ...["value", "score", "95% interval", "n"].map((t) => h("th", { text: t }))),
      ...rows.map((r) => h("tr", {},
        h("td", { text: String(r.value) }), h("td", { text: r.score.toFixed(2) }),
        h("td", { text: `${r.low.toFixed(2)} … ${r.high.toFixed(2)}` }), h("td", { text: String(r.n) }))));
  }

  const draws = [["change:pair", drawPair], ["change:left", drawPair], ["change:right", drawPair],
    ["change:reveal", drawReveal], ["change:ranking_rows", drawRanking], ["change:done", drawRanking]];
  for (const [event, fn] of draws) model.on(event, fn);
  root.addEventListener("keydown", onKey);
  drawPair();
  drawReveal();
  drawRanking();
  el.append(root);

  return () => {
    for (const [event, fn] of draws) model.off(event, fn);
    root.removeEventListener("keydown", onKey);
    urls.clear();
    root.remove();
  };
}

export default { initialize, render };
