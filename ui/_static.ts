// The files the UI serves, by exact path. Nothing is read from disk: the
// page travels inside the package as modules, and a path not listed here
// (including any "..", encoded or not) is a 404.
import { INDEX_HTML, STYLE_CSS } from "./_page.ts";
import { DOM_JS } from "./_client_dom.ts";
import { VIEWS_JS } from "./_client_views.ts";
import { APP_JS } from "./_client_app.ts";

/** A static file: its content type and body. */
export interface StaticFile {
  type: string;
  body: string;
}

const JS = "text/javascript; charset=utf-8";

/** Every static file, by path. */
export const STATIC_FILES: Readonly<Record<string, StaticFile>> = Object.freeze({
  "/": { type: "text/html; charset=utf-8", body: INDEX_HTML },
  "/ui.css": { type: "text/css; charset=utf-8", body: STYLE_CSS },
  "/app.js": { type: JS, body: APP_JS },
  "/dom.js": { type: JS, body: DOM_JS },
  "/views.js": { type: JS, body: VIEWS_JS },
});
