/**
 * The `managing-state ui` web server: a local, token-guarded page over any
 * backend. Built on `node:http`, so it runs the same on Deno and Node.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Backend } from "../types.ts";
import {
  allowedHosts,
  cookieToken,
  hostAllowed,
  hostPort,
  newToken,
  sameOrigin,
  sameSecret,
  tokenCookie,
} from "./_auth.ts";
import { errorReply, getApi, HttpError, type Reply, restore, States } from "./_api.ts";
import { EventHub } from "./_events.ts";
import { STATIC_FILES } from "./_static.ts";

/** Options of {@linkcode startUi}. */
export interface UiOptions {
  /** The backend to show; the caller closes it after the server. */
  backend: Backend;
  /** Address to listen on. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /** Serve POST /api/restore. Default false: nothing writes. */
  allowRestore?: boolean;
  /** The namespace the page opens first (the CLI's configured one), if any. */
  namespace?: string;
  /** Backend name and location shown in the header (no secrets). */
  label?: string;
  /** The access token; a random one by default. */
  token?: string;
}

/** A running UI server. */
export interface UiServer {
  /** The URL to open: it carries the token once; the page then keeps it in a cookie. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** The access token. */
  token: string;
  /** Stops serving, ends live streams and closes the managers (not the backend). */
  close(): Promise<void>;
}

/** Largest request body accepted (a restore request is a few bytes). */
const MAX_BODY = 64 * 1024;

/** Headers on every answer: no caching, no framing, no sniffing, only our own scripts. */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/**
 * Starts the UI server over a backend.
 *
 * @example
 * ```ts ignore
 * import { startUi } from "./ui/server.ts";
 * import { MemoryBackend } from "./backends/memory.ts";
 *
 * const ui = await startUi({ backend: new MemoryBackend() });
 * console.log(`open ${ui.url}`);
 * await ui.close();
 * ```
 */
export async function startUi(options: UiOptions): Promise<UiServer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? newToken();
  const states = new States(options.backend);
  const hub = new EventHub(states);
  const config = {
    allowRestore: options.allowRestore === true,
    namespace: options.namespace ?? null,
    label: options.label ?? options.backend.name,
  };
  let port = 0;
  let hosts: Set<string> | null = null;

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) json(res, errorReply(error));
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!hostAllowed(req, hosts)) return text(res, 403, "Unknown Host header");
    // The path as sent, never normalised: "/x/../app.js" or "/%2e%2e/" names no file.
    const raw = req.url ?? "/";
    const mark = raw.indexOf("?");
    const path = mark === -1 ? raw : raw.slice(0, mark);
    const query = new URLSearchParams(mark === -1 ? "" : raw.slice(mark + 1));
    const given = query.get("token");
    if (req.method === "GET" && path === "/" && given !== null) {
      if (!sameSecret(given, token)) return text(res, 401, UNAUTHORIZED);
      // The token moves into a cookie and out of the address bar and history.
      res.setHeader("set-cookie", tokenCookie(port, token));
      res.setHeader("location", "/");
      return text(res, 303, "See /");
    }
    const cookie = cookieToken(req, port);
    if (cookie === undefined || !sameSecret(cookie, token)) return text(res, 401, UNAUTHORIZED);
    if (path === "/api/restore") {
      if (req.method !== "POST") return text(res, 405, "Use POST");
      if (!sameOrigin(req)) return json(res, forbidden("Cross-origin request refused"));
      if (!config.allowRestore) {
        return json(res, forbidden("Restore is off: start the UI with --allow-restore"));
      }
      if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
        return json(res, { status: 415, body: { error: "Send application/json" } });
      }
      return json(res, await restore(states, await readBody(req)));
    }
    if (req.method !== "GET" && req.method !== "HEAD") return text(res, 405, "Read-only");
    if (path === "/api/config") return json(res, { status: 200, body: config });
    if (path === "/api/events") return await hub.subscribe(query.get("ns") ?? "", res);
    if (path.startsWith("/api/")) return json(res, await getApi(states, path, query));
    // Static files by exact name only: "..", "%2e%2e", "//" and the like match nothing.
    const file = Object.hasOwn(STATIC_FILES, path) ? STATIC_FILES[path] : undefined;
    if (!file) return text(res, 404, "Not found");
    res.writeHead(200, { "content-type": file.type });
    res.end(req.method === "HEAD" ? undefined : file.body);
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await hub.close(); // its heartbeat timer would keep the process alive
    await states.close();
    throw error;
  }
  port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, port);
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostPort(shown, port)}/?token=${token}`,
    port,
    token,
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await hub.close();
        server.closeAllConnections?.();
        await stopped;
        await states.close();
      })();
      return closed;
    },
  };
}

const UNAUTHORIZED = 'No valid token: open the URL that "managing-state ui" printed.';

function forbidden(message: string): Reply {
  return { status: 403, body: { error: message } };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(body);
}

function json(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(reply.body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Uint8Array[] = [];
    req.on("data", (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, "Request body too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      const all = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      resolve(new TextDecoder().decode(all));
    });
    req.on("error", reject);
  });
}
