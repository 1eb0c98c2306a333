// Browser module /views.js: the four pages. Each takes the main element and
// the route and fills it; only text nodes carry stored data.

/** The script, served as /views.js. */
export const VIEWS_JS = String.raw`
import { api, bytes, el, fill, href, jsonView, post, pretty, status, ttl, when } from "./dom.js";

/** Namespaces: name, keys, size, checkpoints, last change (counted one by one). */
export async function namespacesView(main) {
  const names = await api("namespaces");
  const body = el("tbody");
  fill(main,
    el("h1", {}, "Namespaces"),
    names.length === 0 ? el("p", { class: "muted" }, "No namespace holds keys or checkpoints yet.") :
    el("table", { id: "namespaces" },
      el("thead", {}, el("tr", {},
        el("th", {}, "Name"), el("th", { class: "num" }, "Keys"), el("th", { class: "num" }, "Size"),
        el("th", { class: "num" }, "Checkpoints"), el("th", {}, "Last change"))),
      body),
  );
  for (const name of names) {
    const cells = [el("td", { class: "num" }, "..."), el("td", { class: "num" }), el("td", { class: "num" }), el("td")];
    body.append(el("tr", { "data-ns": name },
      el("td", { class: "key" }, el("a", { href: href(["ns", name]) }, name)), cells));
    api("namespace", { ns: name }).then((s) => {
      cells[0].textContent = String(s.keys);
      cells[1].textContent = bytes(s.bytes);
      cells[2].textContent = String(s.checkpoints);
      cells[3].replaceChildren(when(s.lastChange));
    }, (e) => { cells[0].textContent = "error"; cells[0].title = e.message; });
  }
}

/** The tabs of a namespace's pages. */
function tabs(ns, current) {
  const tab = (id, label, parts) =>
    el("a", { href: href(parts), "aria-current": id === current ? "page" : false, id: "tab-" + id }, label);
  return el("nav", { class: "tabs", "aria-label": "Namespace views" },
    tab("keys", "Keys", ["ns", ns]), tab("history", "History", ["ns", ns, "history"]),
    tab("diff", "Diff", ["ns", ns, "diff"]));
}

/**
 * A namespace's keys, a page at a time, with live updates: the returned
 * function applies one change event to the rows on screen.
 */
export async function keysView(main, ns, query) {
  const prefix = query.get("prefix") || "";
  const cursor = query.get("cursor") || "";
  const page = await api("keys", { ns, prefix, cursor });
  const rows = new Map();
  const body = el("tbody");
  const rowFor = (r) => {
    const tr = el("tr", { "data-key": r.key },
      el("td", { class: "key" }, r.key),
      el("td", { class: "value" }, jsonView(r.value)),
      el("td", { class: "num" }, ttl(r.expiresAt)));
    rows.set(r.key, tr);
    return tr;
  };
  page.rows.forEach((r) => body.append(rowFor(r)));
  const search = el("input", {
    type: "search", id: "search", placeholder: "Key prefix (press /)", value: prefix,
    "aria-label": "Search keys by prefix",
  });
  const form = el("form", { class: "bar", role: "search" }, search, el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = href(["ns", ns], { prefix: search.value });
  });
  const more = page.cursor === null ? null :
    el("a", { href: href(["ns", ns], { prefix, cursor: page.cursor }), id: "next" }, "Next page");
  const first = cursor ? el("a", { href: href(["ns", ns], { prefix }) }, "First page") : null;
  const summary = el("p", { class: "muted", id: "summary" }, "Counting...");
  api("namespace", { ns }).then((st) => {
    summary.textContent = st.keys + " keys, " + bytes(st.bytes) + ", " + st.checkpoints +
      " checkpoints, last change ";
    summary.append(when(st.lastChange));
  }, (e) => { summary.textContent = e.message; });
  fill(main,
    el("h1", {}, ns), tabs(ns, "keys"), summary, form,
    page.rows.length === 0 ? el("p", { class: "muted", id: "empty" }, prefix ? "No key starts with this prefix." : "No keys.") : null,
    el("table", { id: "keys" },
      el("thead", {}, el("tr", {}, el("th", {}, "Key"), el("th", {}, "Value"), el("th", { class: "num" }, "Expires"))),
      body),
    el("p", { class: "bar" }, first, more),
  );
  const last = page.rows.length ? page.rows[page.rows.length - 1].key : null;
  return (change) => {
    if (!change.key.startsWith(prefix) || (cursor && change.key <= cursor)) return;
    const tr = rows.get(change.key);
    if (change.deleted) {
      if (tr) tr.classList.add("gone");
      return;
    }
    // A key past this page's end belongs to a later page.
    if (!tr && page.cursor !== null && last !== null && change.key > last) return;
    const fresh = rowFor({ key: change.key, value: change.value, expiresAt: null });
    if (tr) {
      fresh.children[2].replaceWith(tr.children[2]);
      tr.replaceWith(fresh);
    } else {
      const after = [...body.children].find((r) => r.dataset.key > change.key);
      body.insertBefore(fresh, after || null);
      const empty = document.getElementById("empty");
      if (empty) empty.remove();
    }
    fresh.classList.add("flash");
    setTimeout(() => fresh.classList.remove("flash"), 1200);
  };
}

/** History: checkpoints as a tree with the head, abandoned branches, diffs and restore. */
export async function historyView(main, ns, config, confirm) {
  const h = await api("history", { ns });
  const body = el("tbody");
  for (const r of h.rows) {
    const isHead = h.head && h.head.name === r.name;
    const abandoned = r.abandoned;
    const node = el("span", { class: "node" + (r.onHeadPath ? " on-head" : "") }, r.name);
    node.style.setProperty("--depth", String(r.depth));
    const actions = el("td", {},
      r.parent ? el("a", { href: href(["ns", ns, "diff"], { from: r.parent, to: r.name }) }, "vs parent") : null,
      r.parent ? " \u00b7 " : null,
      el("a", { href: href(["ns", ns, "diff"], { from: r.name }), "data-diff-now": r.name }, "vs now"));
    if (config.allowRestore) {
      actions.append(" ", el("button", {
        type: "button", class: "danger", "data-restore": r.name,
        onclick: () => restore(ns, r.name, confirm, main, config),
      }, "Restore"));
    }
    body.append(el("tr", { "data-checkpoint": r.name },
      el("td", { class: "mono" }, node,
        isHead ? el("span", { class: "badge head" }, h.head.via === "restore" ? "HEAD (restored)" : "HEAD") : null,
        abandoned ? el("span", { class: "badge abandoned" }, "abandoned") : null,
        r.auto ? el("span", { class: "badge" }, "auto") : null),
      el("td", {}, when(r.createdAt)),
      el("td", { class: "num" }, String(r.keyCount)),
      el("td", { class: "num" }, bytes(r.bytes)),
      el("td", { class: "mono" }, Object.keys(r.metadata).length ? JSON.stringify(r.metadata) : ""),
      actions));
  }
  const head = h.head === null ? el("p", { class: "muted", id: "head" }, "No head: no checkpoint taken or restored yet.") :
    el("p", { id: "head" }, "Head: ", el("span", { class: "mono" }, h.head.name),
      (h.head.via === "restore" ? " (restored " : " (taken "), when(h.head.at), "). Since then: ",
      h.changes.added + " added, " + h.changes.removed + " removed, " + h.changes.changed + " changed ",
      el("a", { href: href(["ns", ns, "diff"], { from: h.head.name }) }, "(diff)"));
  fill(main,
    el("h1", {}, ns), tabs(ns, "history"), head,
    h.abandoned ? el("p", { class: "error", id: "abandoned" }, "The newest checkpoint is on an abandoned branch: a restore went back past it.") : null,
    h.rows.length === 0 ? el("p", { class: "muted" }, "No checkpoints.") :
    el("table", { id: "history" },
      el("thead", {}, el("tr", {}, el("th", {}, "Checkpoint"), el("th", {}, "Taken"),
        el("th", { class: "num" }, "Keys"), el("th", { class: "num" }, "Size"),
        el("th", {}, "Metadata"), el("th", {}, ""))),
      body),
    config.allowRestore ? null : el("p", { class: "muted" }, "Read-only: start with --allow-restore to restore from here."),
  );
}

async function restore(ns, name, confirm, main, config) {
  if (!(await confirm("Restore namespace \u201c" + ns + "\u201d to checkpoint \u201c" + name + "\u201d? Keys written since it was taken are lost."))) return;
  try {
    await post("restore", { ns, checkpoint: name });
    status("Restored " + name);
    await historyView(main, ns, config, confirm);
  } catch (e) {
    status("Restore failed: " + e.message, true);
  }
}

/** Diff: two checkpoints, or one and now, with old and new values side by side. */
export async function diffView(main, ns, query) {
  const h = await api("history", { ns });
  const names = h.rows.map((r) => r.name); // history order: oldest first, branches together
  const from = query.get("from") || "";
  const to = query.get("to") || "";
  const pick = (id, label, value, withNow) => {
    const select = el("select", { id, "aria-label": label },
      withNow ? el("option", { value: "" }, "now (current state)") : el("option", { value: "" }, "choose..."),
      names.map((n) => el("option", { value: n, selected: n === value }, n)));
    return el("label", {}, label + " ", select);
  };
  const form = el("form", { class: "bar" }, pick("from", "From", from, false), pick("to", "To", to, true),
    el("button", { type: "submit" }, "Compare"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = href(["ns", ns, "diff"], { from: form.querySelector("#from").value, to: form.querySelector("#to").value });
  });
  fill(main, el("h1", {}, ns), tabs(ns, "diff"), form);
  if (!from) {
    main.append(el("p", { class: "muted" }, names.length ? "Choose a checkpoint to compare." : "No checkpoints to compare."));
    return;
  }
  const d = await api("diff", { ns, from, to });
  const section = (kind, title, list, count, cols) => {
    const rest = count - list.length;
    return [
      el("h2", {}, title + " (" + count + ")"),
      list.length === 0 ? el("p", { class: "muted" }, "none") :
      el("table", { id: kind, class: "diff" },
        el("thead", {}, el("tr", {}, el("th", {}, "Key"), cols.map((c) => el("th", {}, c)))),
        el("tbody", {}, list.map((r) => el("tr", { class: kind, "data-key": r.key },
          el("td", { class: "key k" }, r.key),
          cols.map((c) => c === "Old value" ? el("td", { class: "old" }, pretty(r.old)) : el("td", { class: "new" }, pretty(r.new))))))),
      rest > 0 ? el("p", { class: "muted" }, "and " + rest + " more") : null,
    ];
  };
  fill(main, [...main.children],
    el("p", { class: "muted" }, "From " + d.from + " to " + (d.to === null ? "now" : d.to)),
    section("changed", "Changed", d.changed, d.counts.changed, ["Old value", "New value"]),
    section("added", "Added", d.added, d.counts.added, ["New value"]),
    section("removed", "Removed", d.removed, d.counts.removed, ["Old value"]),
  );
}
`;
