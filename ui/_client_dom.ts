// Browser module /dom.js: building elements, calling the API, showing JSON.
// Every key, value and name is put in the page as text (createTextNode or
// textContent), never parsed as HTML, and links are only ever "#/..." built
// here, so a stored "<script>" or "javascript:" stays text.

/** The script, served as /dom.js. */
export const DOM_JS = String.raw`
/** Makes an element; children are nodes or text (never HTML). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (name === "class") node.className = v;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), v);
    else if (name === "href") node.setAttribute("href", String(v).startsWith("#/") ? v : "#/");
    else node.setAttribute(name, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** Replaces an element's children (nodes or text; null and false are left out). */
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat(2).filter((c) => c !== null && c !== undefined && c !== false));
}

/** A link to a view: "#/" plus encoded path parts and query. */
export function href(parts, query) {
  const path = "#/" + parts.map(encodeURIComponent).join("/");
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v) q.set(k, v);
  const s = q.toString();
  return s ? path + "?" + s : path;
}

/** The current view from location.hash: path parts and query. */
export function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const mark = hash.indexOf("?");
  const path = mark === -1 ? hash : hash.slice(0, mark);
  const parts = path ? path.split("/").map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  }) : [];
  return { parts, query: new URLSearchParams(mark === -1 ? "" : hash.slice(mark + 1)) };
}

/** An API error with the server's message. */
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** GET /api/<name>?<query> as JSON. */
export async function api(name, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null) q.set(k, v);
  const res = await fetch("/api/" + name + "?" + q.toString(), { headers: { accept: "application/json" } });
  return await answer(res);
}

/** POST /api/<name> with a JSON body. */
export async function post(name, body) {
  const res = await fetch("/api/" + name, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  return await answer(res);
}

async function answer(res) {
  const text = await res.text();
  let doc;
  try { doc = JSON.parse(text); } catch { doc = { error: text }; }
  if (!res.ok) throw new ApiError(res.status, (doc && doc.error) || res.statusText);
  return doc;
}

/** Bytes as B, KiB or MiB. */
export function bytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

/** A time as local date and time, with the ISO form as a tooltip. */
export function when(ms) {
  if (ms === null || ms === undefined) return el("span", { class: "muted" }, "-");
  const d = new Date(ms);
  return el("time", { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

/** Time left until an expiry, as "in 3m 20s", or "-" without one. */
export function ttl(expiresAt) {
  if (expiresAt === null || expiresAt === undefined) return "-";
  let s = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) { parts.push(Math.floor(s / size) + unit); s %= size; }
  }
  if (parts.length < 2) parts.push(s + "s");
  return "in " + parts.join(" ");
}

const PREVIEW = 120;

/** One line of JSON, cut to a readable length. */
export function preview(value) {
  const text = JSON.stringify(value);
  return text.length > PREVIEW ? text.slice(0, PREVIEW - 1) + "\u2026" : text;
}

/**
 * A JSON value as text: a scalar as itself, an object or array as a
 * <details> fold whose children are built when it is first opened, so a
 * page of large values stays light. Keyboard: Tab to it, Enter to fold.
 */
export function jsonView(value, label) {
  const head = label === undefined ? [] : [el("span", { class: "j-k" }, label + ": ")];
  if (value === null || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return el("span", { class: "row" }, head, el("span", { class: "j-" + kind }, JSON.stringify(value)));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const size = Array.isArray(value) ? "[" + entries.length + "]" : "{" + entries.length + "}";
  const fold = el("details", { class: "json row" },
    el("summary", { class: "json" }, head, el("span", { class: "muted" }, size + " "), preview(value)));
  fold.addEventListener("toggle", () => {
    if (!fold.open || fold.dataset.built) return;
    fold.dataset.built = "1";
    fold.append(el("div", { class: "tree" }, entries.map(([k, v]) => jsonView(v, k))));
  });
  return fold;
}

/** A value as pretty JSON text (for diffs). */
export function pretty(value) {
  return el("pre", {}, value === undefined ? "" : JSON.stringify(value, null, 2));
}

/** Shows a short message at the bottom of the page. */
export function status(message, isError) {
  const node = document.getElementById("status");
  node.textContent = message;
  node.className = "status" + (isError ? " error" : "");
}
`;
