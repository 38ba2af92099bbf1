// The edit history as a branching tree of thumbnails. Click selects (the next edit builds on
// it: a branch); hover shows the prompt; the path from the root to the selection is lit.
import { h } from "./dom.js";

export function historyTree({ model, urls, onPick, picks }) {
  const tree = h("div", { class: "nb2-tree", role: "tree" });
  const count = h("span", { class: "nb2-hint" });
  const el = h("div", { class: "nb2-history" },
    h("div", { class: "nb2-row" }, h("span", { class: "nb2-section", text: "History" }), count), tree);

  function render() {
    const nodes = model.get("history");
    count.textContent = nodes.length ? `${nodes.length} image${nodes.length > 1 ? "s" : ""}` : "";
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const lit = new Set();
    for (let n = byId.get(model.get("selected")); n; n = byId.get(n.parent)) lit.add(n.id);
    const children = new Map();
    for (const n of nodes) {
      const key = n.parent && byId.has(n.parent) ? n.parent : null;
      if (!children.has(key)) children.set(key, []);
      children.get(key).push(n);
    }
    const picked = picks();
    function branch(parent) {
      const kids = children.get(parent) ?? [];
      if (!kids.length) return null;
      return h("ul", { role: parent ? "group" : "presentation" }, kids.map((n) =>
        h("li", { role: "treeitem", "aria-selected": String(n.id === model.get("selected")) },
          node(n, lit.has(n.id), picked.indexOf(n.id), byId), branch(n.id))));
    }
    urls.prune(new Set([...urls.urls.keys()].filter((k) => !k.startsWith("node:") || byId.has(k.slice(5)))));
    tree.replaceChildren(branch(null) ?? h("div", { class: "nb2-hint", text: "nothing yet: generate an image" }));
  }

  function node(n, onPath, pick, byId) {
    const parent = byId.get(n.parent);
    const kind = n.kind === "edit" && parent ? `edit of #${parent.number}`
      : n.kind === "upscale" ? `at ${n.resolution}` : n.kind;
    const badges = [n.cached ? "cached" : "", n.offline ? "offline" : ""].filter(Boolean);
    const classes = ["nb2-node"];
    if (onPath) classes.push("nb2-on-path");
    if (n.id === model.get("selected")) classes.push("nb2-selected");
    if (pick >= 0) classes.push("nb2-picked");
    return h("button", {
      type: "button",
      class: classes.join(" "),
      dataset: { id: n.id, number: String(n.number) },
      title: `#${n.number} ${kind}: ${n.prompt}\n${n.width}×${n.height} ${n.format}${n.rating ? `\nrated ${n.rating} of 5` : ""}`,
      onclick: () => onPick(n),
    },
      h("img", { src: urls.get(`node:${n.id}`, n.thumb), alt: `#${n.number}` }),
      h("span", { class: "nb2-node-text" },
        h("span", {},
          h("span", { class: "nb2-node-label", text: `#${n.number}${pick >= 0 ? ` (${"AB"[pick]})` : ""}` }),
          h("span", { class: "nb2-node-badges", text: ` ${[kind, ...badges].join(" · ")}` }),
          n.rating ? h("span", { class: "nb2-node-rating", dataset: { rating: String(n.rating) }, title: `rated ${n.rating} of 5`,
            text: ` ${"\u2605".repeat(n.rating)}` }) : null),
        // the instruction (or prompt) itself, on the node: the tree reads without hovering
        h("span", { class: "nb2-node-prompt", text: n.prompt })));
  }

  model.on("change:history change:selected change:compare", render);
  render();
  return { el, render, cleanup: () => model.off("change:history change:selected change:compare", render) };
}
