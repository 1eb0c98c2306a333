// Runs `managing-state ui` as a real process for the UI tests and talks to
// it over raw HTTP (paths sent exactly as written, no client normalisation).
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeCommand } from "./_runtime.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** A running `ui` process. */
export interface UiProcess {
  /** The URL it printed (with the token). */
  url: string;
  /** http://127.0.0.1:<port> */
  base: string;
  port: number;
  token: string;
  /** The Cookie header a signed-in browser sends. */
  cookie: string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then wait for the exit; returns its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `cli ui --port 0 ...args` in `cwd` and waits for the URL line. */
export function startUi(args: string[], cwd: string): Promise<UiProcess> {
  const [cmd, lead] = runtimeCommand(join(root, "cli.ts"));
  const child: ChildProcess = spawn(cmd, [...lead, "ui", "--port", "0", ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code))
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ui did not print its URL in 30 s: ${stderr}`));
    }, 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`ui exited with ${code} before printing its URL: ${stderr}`));
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const m = /open (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+))/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[2]);
      resolve({
        url: m[1]!,
        base: `http://127.0.0.1:${port}`,
        port,
        token: m[3]!,
        cookie: `managing_state_ui_${port}=${m[3]}`,
        stderr: () => stderr,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          return await exited;
        },
      });
    });
  });
}

/** An HTTP answer. */
export interface HttpAnswer {
  status: number;
  /** Header names in lower case; repeated headers joined by ", ". */
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends one HTTP/1.1 request over a plain socket, so the path and the Host
 * and Origin headers go out exactly as given (clients normalise "..", and
 * fetch will not set Host or Origin).
 */
export function http(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    connection: "close",
    ...options.headers,
  };
  if (options.body !== undefined) {
    headers["content-length"] = String(new TextEncoder().encode(options.body).length);
  }
  const head = `${options.method ?? "GET"} ${path} HTTP/1.1\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const chunks: Uint8Array[] = [];
    // No half-close: the server answers "connection: close" requests, then closes.
    socket.on("connect", () => socket.write(head + (options.body ?? "")));
    socket.on("data", (d: Uint8Array) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const bytes = concat(chunks);
      const split = indexOfCrlf(bytes, 0, true);
      const lines = new TextDecoder().decode(bytes.subarray(0, split)).split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
      const out: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
      }
      let body = bytes.subarray(split + 4);
      if (/chunked/i.test(out["transfer-encoding"] ?? "")) body = unchunk(body);
      resolve({ status, headers: out, body: new TextDecoder().decode(body) });
    });
  });
}

/** Where the next CRLF (or CRLF CRLF when `double`) starts at or after `from`; -1 if none. */
function indexOfCrlf(b: Uint8Array, from: number, double = false): number {
  for (let i = from; i + 1 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && (!double || (b[i + 2] === 13 && b[i + 3] === 10))) {
      return i;
    }
  }
  return -1;
}

/** Decodes a chunked body. */
function unchunk(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const nl = indexOfCrlf(b, at);
    if (nl === -1) break;
    const size = parseInt(new TextDecoder().decode(b.subarray(at, nl)), 16);
    if (!size) break;
    parts.push(b.subarray(nl + 2, nl + 2 + size));
    at = nl + 2 + size + 2;
  }
  return concat(parts);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}
