// A background grid's live progress: a bar (done, failed, canceled), one line of counts, a Stop that
// cancels at the server, and (small grids) the cells as they fill in. Python pushes the state
// from the grid's thread; nothing here polls, so the kernel stays free.
import "./progress.css";
import { h } from "../dom.js";
import { channelOf, openChannel } from "../rpc.js";

function initialize({ model }) {
  return openChannel(model);
}

function render({ model, el }) {
  const channel = channelOf(model);
  const done = h("span", { class: "nb2-progress-done" });
  const failed = h("span", { class: "nb2-progress-failed" });
  const canceled = h("span", { class: "nb2-progress-canceled" });
  const bar = h("div", { class: "nb2-progress-bar", role: "progressbar", "aria-valuemin": "0" }, done, failed, canceled);
  const line = h("span", { class: "nb2-progress-text", "aria-live": "polite" });
  const stop = h("button", { class: "nb2-progress-stop", type: "button", title: "cancel what is in flight, at the server too" }, "Stop");
  const error = h("div", { class: "nb2-progress-error", role: "alert", hidden: true });
  const cells = h("div", { class: "nb2-progress-cells" });
  const root = h("div", { class: "nb2-progress" }, h("div", { class: "nb2-progress-head" }, bar, line, stop), error, cells);

  stop.addEventListener("click", () => {
    stop.disabled = true;
    channel.request("cancel").catch((e) => {
      error.textContent = e.message;
      error.hidden = false;
      stop.disabled = false;
    });
  });

  function update() {
    const total = Math.max(1, model.get("cells"));
    const state = model.get("state");
    root.dataset.state = state;
    done.style.width = `${(100 * model.get("done")) / total}%`;
    failed.style.width = `${(100 * model.get("failed")) / total}%`;
    canceled.style.width = `${(100 * model.get("canceled")) / total}%`;
    bar.setAttribute("aria-valuemax", String(model.get("cells")));
    bar.setAttribute("aria-valuenow", String(model.get("done") + model.get("failed") + model.get("canceled")));
    line.textContent = model.get("text");
    stop.hidden = state !== "running" && state !== "stopping";
    stop.disabled = state === "stopping";
    const html = model.get("html");
    if (cells.dataset.html !== html) {
      cells.innerHTML = html; // made in Python (views/html.py), every user text escaped there
      cells.dataset.html = html;
    }
  }
  const names = ["cells", "done", "failed", "canceled", "text", "state", "html"];
  for (const name of names) model.on(`change:${name}`, update);
  update();
  el.appendChild(root);
  return () => {
    for (const name of names) model.off(`change:${name}`, update);
    root.remove();
  };
}

export default { initialize, render };
