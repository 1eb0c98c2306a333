// Runtime seam for paths and the process: node:path, node:os and
// node:process on Node; on Deno its own API (and, on POSIX, the path
// functions below, node:path's POSIX ones), since loading any node: module
// costs a Deno process more than a CLI call's own work.

interface DenoSys {
  version?: unknown;
  pid: number;
  build: { os: string };
  uid(): number | null;
  hostname(): string;
  env: { get(name: string): string | undefined };
}

interface PathFunctions {
  join(...parts: string[]): string;
  dirname(path: string): string;
  basename(path: string): string;
}

interface NodeProcess {
  pid: number;
  platform: string;
  env: Record<string, string | undefined>;
  getuid?(): number;
  kill(pid: number, signal: number): void;
}

const deno = (globalThis as { Deno?: DenoSys }).Deno;
const onDeno = deno?.version !== undefined;
/** Node's `process` (a global there); never touched on Deno, where it is loaded on first use. */
const nodeProcess = () => (globalThis as unknown as { process: NodeProcess }).process;

/** Whether this runs on Windows. */
export const isWindows = onDeno ? deno!.build.os === "windows" : nodeProcess().platform === "win32";

const path: PathFunctions = onDeno && !isWindows
  ? { join, dirname, basename }
  : await import("node:path");

/** `path.join`. */
export const joinPath: (...parts: string[]) => string = path.join;
/** `path.dirname`. */
export const dirnamePath: (path: string) => string = path.dirname;
/** `path.basename`. */
export const basenamePath: (path: string) => string = path.basename;

/** This process's id. */
export const pid: number = onDeno ? deno!.pid : nodeProcess().pid;

/** This process's user id; null where there is none (Windows). Deno needs --allow-sys=uid. */
export function getuid(): number | null {
  if (onDeno) return deno!.uid();
  const p = nodeProcess();
  return p.platform !== "win32" && typeof p.getuid === "function" ? p.getuid() : null;
}

/** This machine's host name. Deno needs --allow-sys=hostname. */
export const hostname: () => string = onDeno
  ? () => deno!.hostname()
  : (await import("node:os")).hostname;

/** An environment variable (Deno needs --allow-env for it). */
export function env(name: string): string | undefined {
  return onDeno ? deno!.env.get(name) : nodeProcess().env[name];
}

/** Sends signal 0 to `pid` (`process.kill(pid, 0)`): throws ESRCH when it is gone. */
export function probeProcess(target: number): void {
  nodeProcess().kill(target, 0);
}

// node:path's POSIX functions, for Deno on POSIX.

function join(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join("/");
  return joined === "" ? "." : normalize(joined);
}

function normalize(p: string): string {
  const absolute = p.startsWith("/");
  const trailing = p.endsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (part !== ".." || !absolute) out.push(part);
  }
  const body = out.join("/");
  if (body === "") return absolute ? "/" : trailing ? "./" : ".";
  return (absolute ? "/" : "") + body + (trailing ? "/" : "");
}

function dirname(p: string): string {
  if (p === "") return ".";
  let end = -1;
  let matchedSlash = true;
  for (let i = p.length - 1; i >= 1; --i) {
    if (p[i] === "/") {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else matchedSlash = false;
  }
  const hasRoot = p.startsWith("/");
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return p.slice(0, end);
}

function basename(p: string): string {
  let end = p.length;
  while (end > 0 && p[end - 1] === "/") end--;
  return p.slice(p.lastIndexOf("/", end - 1) + 1, end);
}
