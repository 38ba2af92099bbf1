// nb2's panel: an anywidget front end for a Session. Python owns the state and the checks;
// this module draws it and sends commands ({id, kind}) over the model's message channel.
import "./panel.css";
import { comparePane } from "./compare.js";
import { controls } from "./controls.js";
import { h, UrlCache } from "./dom.js";
import { historyTree } from "./history.js";
import { referenceStrip } from "./refs.js";
import { channelOf, openChannel } from "./rpc.js";
import { viewer } from "./viewer.js";

function initialize({ model }) {
  return openChannel(model);
}

function render({ model, el }) {
  const channel = channelOf(model);
  const urls = new UrlCache();
  const errors = h("div", { class: "nb2-errors", role: "alert" });
  const hint = h("div", { class: "nb2-pick-hint", hidden: true });
  // keys typed in the panel are the panel's, not the notebook's shortcuts
  const root = h("div", { class: "nb2-panel", tabindex: "-1", "data-lm-suppress-shortcuts": "true" });

  function report(error) {
    const line = h("div", { class: "nb2-error" },
      h("span", { text: error.message }),
      h("button", { type: "button", class: "nb2-error-close", text: "×", title: "dismiss", onclick: () => line.remove() }));
    if (error.field) line.dataset.field = error.field;
    errors.append(line);
    while (errors.children.length > 3) errors.firstChild.remove();
  }

  // Compare: "Compare with…" on the selected node, then a click on a second node.
  let pickingFrom = null;
  function startCompare(node) {
    pickingFrom = node;
    hint.textContent = `Comparing #${node.number} with… click another node in the history (Esc to cancel)`;
    hint.hidden = false;
    tree.render();
  }
  function stopPicking() {
    pickingFrom = null;
    hint.hidden = true;
    tree.render();
  }
  function onPick(node) {
    if (pickingFrom) {
      const first = pickingFrom;
      stopPicking();
      if (first.id !== node.id) channel.request("compare", { nodes: [first.id, node.id] }).catch(report);
      return;
    }
    channel.request("select", { node: node.id }).catch(report);
  }
  function onKey(event) {
    if (event.key === "Escape" && pickingFrom) stopPicking();
  }

  const parts = [];
  const form = controls({ model, channel, report });
  const strip = referenceStrip({ model, channel, report, urls, root });
  const tree = historyTree({ model, urls, onPick, picks: () => (pickingFrom ? [pickingFrom.id] : model.get("compare")) });
  const view = viewer({ model, channel, report, urls, startCompare });
  const compare = comparePane({ model, channel, report, urls });
  parts.push(form, strip, tree, view, compare);

  // controls, references and the history on the left; the image, large, on the right
  root.append(
    h("div", { class: "nb2-left" }, form.el, strip.el, errors, tree.el),
    h("div", { class: "nb2-right" }, hint, view.el, compare.el),
  );
  root.addEventListener("keydown", onKey);
  const offError = channel.onError(report);
  // a run that succeeds clears the errors of earlier attempts: they no longer apply
  const onStatus = () => {
    if ((model.get("status") ?? {}).state === "done") errors.replaceChildren();
  };
  model.on("change:status", onStatus);
  el.append(h("div", { class: "nb2-panel-wrap" }, root));

  return () => {
    for (const part of parts) part.cleanup();
    offError();
    model.off("change:status", onStatus);
    root.removeEventListener("keydown", onKey);
    urls.clear();
    root.remove();
  };
}

export default { initialize, render };
