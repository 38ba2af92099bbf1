// A tiny element builder. Text always goes in as text nodes (never innerHTML): prompts and
// file names are user text.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Object URLs for image bytes (DataView from the widget model), revoked when replaced or
// when the view goes away.
export class UrlCache {
  constructor() {
    this.urls = new Map();
  }
  get(key, bytes, type = "image/jpeg") {
    const hit = this.urls.get(key);
    if (hit && hit.bytes === bytes) return hit.url;
    if (hit) URL.revokeObjectURL(hit.url);
    if (!bytes || bytes.byteLength === 0) {
      this.urls.delete(key);
      return "";
    }
    const url = URL.createObjectURL(new Blob([bytes], { type: sniff(bytes) || type }));
    this.urls.set(key, { bytes, url });
    return url;
  }
  prune(keep) {
    for (const [key, hit] of this.urls) {
      if (!keep.has(key)) {
        URL.revokeObjectURL(hit.url);
        this.urls.delete(key);
      }
    }
  }
  clear() {
    this.prune(new Set());
  }
}

function sniff(bytes) {
  const view = bytes instanceof DataView ? bytes : new DataView(bytes.buffer ?? bytes);
  if (view.byteLength < 4) return "";
  if (view.getUint32(0) === 0x89504e47) return "image/png";
  if (view.getUint16(0) === 0xffd8) return "image/jpeg";
  return "";
}

export function seconds(s) {
  if (s === null || s === undefined) return "";
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
