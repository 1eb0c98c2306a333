// Browser module /app.js: routing by location.hash (every view has its own
// bookmarkable address), the header, live updates over server-sent events,
// keyboard shortcuts and the light/dark switch.

/** The script, served as /app.js. */
export const APP_JS = String.raw`
import { api, ApiError, el, fill, href, route, status } from "./dom.js";
import { diffView, historyView, keysView, namespacesView } from "./views.js";

const main = document.getElementById("main");
let config = { allowRestore: false, label: "" };
let events = null;
let onChange = null;

/** Opens the live stream for a namespace (or keeps the one already open). */
function listen(ns) {
  if (events && events.ns === ns) return;
  if (events) events.source.close();
  document.body.dataset.live = "off";
  document.getElementById("live").hidden = true;
  const source = new EventSource("/api/events?ns=" + encodeURIComponent(ns));
  events = { ns, source };
  source.addEventListener("ready", () => {
    document.body.dataset.live = "on";
    document.getElementById("live").hidden = false;
  });
  source.addEventListener("change", (e) => {
    const change = JSON.parse(e.data);
    if (onChange) onChange(change);
  });
  source.addEventListener("failed", (e) => status("Live updates stopped: " + JSON.parse(e.data).error, true));
  source.onerror = () => { document.getElementById("live").hidden = true; document.body.dataset.live = "off"; };
}

function stopListening() {
  if (events) events.source.close();
  events = null;
  document.getElementById("live").hidden = true;
}

function crumbs(parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  if (parts[0] === "ns" && parts[1] !== undefined) {
    nav.append(el("a", { href: "#/" }, "namespaces"), el("span", { class: "muted" }, "/"),
      el("a", { href: href(["ns", parts[1]]) }, parts[1]));
  }
}

/** Shows the view the address names. */
async function render() {
  const { parts, query } = route();
  crumbs(parts);
  onChange = null;
  document.body.dataset.view = "loading";
  try {
    if (parts[0] === "ns" && parts[1] !== undefined) {
      const ns = parts[1];
      const view = parts[2] || "keys";
      document.title = ns + " \u00b7 " + view + " \u00b7 managing-state";
      if (view === "history") {
        stopListening();
        await historyView(main, ns, config, confirmDialog);
      } else if (view === "diff") {
        stopListening();
        await diffView(main, ns, query);
      } else {
        onChange = await keysView(main, ns, query);
        listen(ns);
      }
      document.body.dataset.view = view;
    } else {
      stopListening();
      document.title = "managing-state";
      await namespacesView(main);
      document.body.dataset.view = "namespaces";
    }
  } catch (e) {
    document.body.dataset.view = "error";
    const message = e instanceof ApiError && e.status === 401
      ? "Not signed in: open the URL that \u201cmanaging-state ui\u201d printed."
      : e.message;
    fill(main, el("p", { class: "error", id: "error" }, message));
  }
}

/** Asks before a restore; resolves true when confirmed. */
function confirmDialog(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  document.getElementById("confirm-ok").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** Light, dark, or the system's choice; remembered in this browser. */
function setTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  try { if (theme) localStorage.setItem("theme", theme); } catch { /* private mode */ }
}

function toggleTheme() {
  const current = document.documentElement.dataset.theme ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  setTheme(current === "dark" ? "light" : "dark");
}

function go(view) {
  const { parts } = route();
  if (parts[0] !== "ns" || parts[1] === undefined) return;
  location.hash = view === "keys" ? href(["ns", parts[1]]) : href(["ns", parts[1], view]);
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
  if (document.querySelector("dialog[open]")) return;
  const actions = {
    "/": () => { const s = document.getElementById("search"); if (s) s.focus(); else go("keys"); },
    n: () => { location.hash = "#/"; },
    k: () => go("keys"),
    h: () => go("history"),
    d: () => go("diff"),
    t: toggleTheme,
    "?": () => document.getElementById("keys-help").showModal(),
  };
  const action = actions[e.key];
  if (action) { e.preventDefault(); action(); }
});

document.getElementById("theme").addEventListener("click", toggleTheme);
document.getElementById("help").addEventListener("click", () => document.getElementById("keys-help").showModal());
window.addEventListener("hashchange", render);

try { setTheme(localStorage.getItem("theme")); } catch { /* private mode */ }
try {
  config = await api("config");
  document.getElementById("label").textContent = config.label;
  if (!location.hash && config.namespace) location.replace(href(["ns", config.namespace]));
} catch (e) {
  status(e.message, true);
}
await render();
`;
