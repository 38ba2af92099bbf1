// The message channel of one model: commands go out as {id, kind, ...}; every reply carries
// the same id and kind "ok" or "error". Made once per model in `initialize`, shared by views.

const channels = new Map();

export function openChannel(model) {
  const pending = new Map();
  const errorListeners = new Set();
  let counter = 0;

  function onMessage(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    const waiter = pending.get(msg.id);
    if (waiter) {
      pending.delete(msg.id);
      if (msg.kind === "error") waiter.reject(toError(msg));
      else waiter.resolve({ msg, buffers: buffers ?? [] });
      return;
    }
    // An error nobody is waiting for: a background run failed. Every view shows it.
    if (msg.kind === "error") for (const listener of errorListeners) listener(toError(msg));
  }
  model.on("msg:custom", onMessage);

  const channel = {
    request(kind, payload = {}, buffers = []) {
      const id = `m${++counter}`;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        model.send({ ...payload, id, kind }, undefined, buffers);
      });
    },
    onError(listener) {
      errorListeners.add(listener);
      return () => errorListeners.delete(listener);
    },
  };
  const key = model.get("_channel");
  channels.set(key, channel);
  return () => {
    model.off("msg:custom", onMessage);
    for (const waiter of pending.values()) waiter.reject(new Error("the panel was closed"));
    pending.clear();
    errorListeners.clear();
    channels.delete(key);
  };
}

export function channelOf(model) {
  return channels.get(model.get("_channel"));
}

function toError(msg) {
  const error = new Error(msg.message || "error");
  error.field = msg.field ?? null;
  return error;
}
