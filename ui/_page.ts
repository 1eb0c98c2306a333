// The UI's HTML shell and style sheet, as strings so that JSR, npm and a
// checkout all carry them the same way (no file is read at run time).

/** The one HTML page; the scripts fill it in. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>managing-state</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<header class="top">
  <a class="brand" href="#/">managing-state</a>
  <nav id="crumbs" aria-label="Location"></nav>
  <span id="live" class="live" hidden>live</span>
  <span id="label" class="label"></span>
  <button id="theme" type="button" title="Light or dark (t)">Theme</button>
  <button id="help" type="button" title="Keyboard shortcuts (?)">?</button>
</header>
<main id="main" tabindex="-1"><p class="muted">Loading...</p></main>
<p id="status" class="status" role="status" aria-live="polite"></p>
<dialog id="confirm">
  <form method="dialog">
    <p id="confirm-text"></p>
    <menu>
      <button value="cancel" type="submit">Cancel</button>
      <button value="ok" type="submit" class="danger" id="confirm-ok">Restore</button>
    </menu>
  </form>
</dialog>
<dialog id="keys-help">
  <form method="dialog">
    <h2>Keyboard</h2>
    <dl>
      <dt>/</dt><dd>search keys by prefix</dd>
      <dt>n</dt><dd>namespaces</dd>
      <dt>k</dt><dd>keys of this namespace</dd>
      <dt>h</dt><dd>history</dd>
      <dt>d</dt><dd>diff</dd>
      <dt>t</dt><dd>light or dark</dd>
      <dt>Tab, Enter, Space</dt><dd>move, open links, fold values</dd>
    </dl>
    <menu><button type="submit">Close</button></menu>
  </form>
</dialog>
</body>
</html>
`;

/** The style sheet: system fonts, light and dark from the OS or the toggle. */
export const STYLE_CSS = `:root {
  color-scheme: light;
  --bg: #ffffff; --fg: #1d2228; --muted: #5d6873; --line: #d8dee4; --panel: #f5f7f9;
  --accent: #0a5bc4; --add: #116329; --add-bg: #dafbe1; --del: #a40e26; --del-bg: #ffebe9;
  --chg-bg: #fff8c5; --flash: #fff3a8;
}
@media (prefers-color-scheme: dark) {
  :root:not([data-theme="light"]) {
    color-scheme: dark;
    --bg: #0f1317; --fg: #e3e8ed; --muted: #98a3ad; --line: #2f3740; --panel: #171d23;
    --accent: #6cb0ff; --add: #7ee2a0; --add-bg: #12321f; --del: #ff9b9b; --del-bg: #3d1517;
    --chg-bg: #3a3310; --flash: #4d4510;
  }
}
:root[data-theme="dark"] {
  color-scheme: dark;
  --bg: #0f1317; --fg: #e3e8ed; --muted: #98a3ad; --line: #2f3740; --panel: #171d23;
  --accent: #6cb0ff; --add: #7ee2a0; --add-bg: #12321f; --del: #ff9b9b; --del-bg: #3d1517;
  --chg-bg: #3a3310; --flash: #4d4510;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
}
a { color: var(--accent); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.top {
  display: flex; gap: 12px; align-items: center; padding: 8px 20px;
  border-bottom: 1px solid var(--line); background: var(--panel); position: sticky; top: 0;
}
.brand { font-weight: 600; text-decoration: none; color: var(--fg); }
#crumbs { flex: 1; display: flex; gap: 6px; min-width: 0; }
#crumbs > * { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.label { color: var(--muted); font-size: 12px; }
.live { color: var(--add); font-size: 12px; }
.live::before { content: "\\25CF  "; }
button, select, input {
  font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: 4px 10px;
}
button { cursor: pointer; }
button.danger { border-color: var(--del); color: var(--del); }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 20px 0 8px; }
.muted { color: var(--muted); }
.tabs { display: flex; gap: 4px; margin-bottom: 12px; border-bottom: 1px solid var(--line); }
.tabs a { padding: 6px 12px; text-decoration: none; border-bottom: 2px solid transparent; }
.tabs a[aria-current="page"] { border-color: var(--accent); color: var(--fg); font-weight: 600; }
.bar { display: flex; gap: 8px; align-items: center; margin-bottom: 10px; flex-wrap: wrap; }
.bar input[type="search"] { min-width: 280px; }
table { border-collapse: collapse; width: 100%; }
th, td {
  text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line);
}
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key, .mono, pre, summary.json {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
}
td.key { overflow-wrap: anywhere; max-width: 32ch; }
td.value { width: 60%; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
details.json > summary { cursor: pointer; overflow-wrap: anywhere; }
details.json > .tree { padding-left: 16px; border-left: 1px dotted var(--line); }
.tree .row { display: block; }
.j-k { color: var(--muted); }
.j-string { color: var(--add); }
.j-number, .j-boolean, .j-null { color: var(--accent); }
tr.flash { background: var(--flash); transition: background 1s; }
tr.gone td { text-decoration: line-through; color: var(--muted); }
.badge {
  display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 10px;
  border: 1px solid var(--line); margin-left: 6px; color: var(--muted);
}
.badge.head { border-color: var(--accent); color: var(--accent); font-weight: 600; }
.badge.abandoned { border-color: var(--del); color: var(--del); }
.node { padding-left: calc(var(--depth, 0) * 22px); white-space: nowrap; }
.node::before { content: "\\25CB  "; color: var(--muted); }
.node.on-head::before { content: "\\25CF  "; color: var(--accent); }
.added td.k { color: var(--add); }
.removed td.k { color: var(--del); }
td.old { background: var(--del-bg); }
td.new { background: var(--add-bg); }
.changed td.old, .changed td.new { background: var(--chg-bg); }
.status { position: fixed; bottom: 8px; right: 20px; margin: 0; color: var(--muted); }
.error { color: var(--del); }
dialog { border: 1px solid var(--line); border-radius: 8px; background: var(--bg); color: var(--fg); }
dialog menu { display: flex; gap: 8px; justify-content: flex-end; padding: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dt { font-family: ui-monospace, monospace; font-weight: 600; }
dd { margin: 0; }
`;
