// The edit history as a branching tree of thumbnails. Click selects (the next edit builds on
// it: a branch); hover shows the prompt; the path from the root to the selection is lit.
import { h } from "./dom.js";

export function historyTree({ model, urls, onPick, picks }) {
  const tree = h("div", { class: "nb2-tree", role: "tree" });
  const el = h("div", { class: "nb2-history" }, h("b", { text: "History" }), tree);

  function render() {
    const nodes = model.get("history");
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
          node(n, lit.has(n.id), picked.indexOf(n.id)), branch(n.id))));
    }
    urls.prune(new Set([...urls.urls.keys()].filter((k) => !k.startsWith("node:") || byId.has(k.slice(5)))));
    tree.replaceChildren(branch(null) ?? h("div", { class: "nb2-hint", text: "nothing yet: generate an image" }));
  }

  function node(n, onPath, pick) {
    const badges = [n.kind === "edit" ? "edit" : n.kind === "upscale" ? n.resolution : "", n.cached ? "cached" : "", n.offline ? "offline" : ""].filter(Boolean);
    const classes = ["nb2-node"];
    if (onPath) classes.push("nb2-on-path");
    if (n.id === model.get("selected")) classes.push("nb2-selected");
    if (pick >= 0) classes.push("nb2-picked");
    return h("button", {
      type: "button",
      class: classes.join(" "),
      dataset: { id: n.id, number: String(n.number) },
      title: `#${n.number} ${n.kind}: ${n.prompt}\n${n.width}×${n.height} ${n.format}`,
      onclick: () => onPick(n),
    },
      h("img", { src: urls.get(`node:${n.id}`, n.thumb), alt: `#${n.number}` }),
      h("span", { class: "nb2-node-label", text: `#${n.number}${pick >= 0 ? ` (${"AB"[pick]})` : ""}` }),
      badges.length ? h("span", { class: "nb2-node-badges", text: badges.join(" · ") }) : null);
  }

  model.on("change:history change:selected change:compare", render);
  render();
  return { el, render, cleanup: () => model.off("change:history change:selected change:compare", render) };
}
