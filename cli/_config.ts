// CLI settings: flag, then environment, then the config `init` saved, then defaults.
// The config never holds a password, its URL and path belong to the backend
// it was saved for, and one that `init` did not write on this machine (a file
// checked into a repository) cannot send state to a server by itself.
import { env, getuid, hostname, isWindows, joinPath as join } from "../backends/_sys_platform.ts";
import { fs } from "../backends/_fs_platform.ts";
import { DEFAULT_DIR } from "../backends/_open.ts";
import { atomicWrite, ensurePrivateDir, readText } from "../backends/_files.ts";
import { StateError, ValidationError } from "../errors.ts";
import { redact } from "./_redact.ts";

const { lstatSync } = fs;

/** Settings every command uses. */
export interface Settings {
  backend: string;
  namespace: string;
  dir: string;
  url?: string;
  path?: string;
}

/** Environment variables for the same settings. */
export const ENV = {
  backend: "MANAGING_STATE_BACKEND",
  namespace: "MANAGING_STATE_NAMESPACE",
  dir: "MANAGING_STATE_DIR",
  url: "MANAGING_STATE_URL",
  path: "MANAGING_STATE_PATH",
} as const;

/** The file `init` writes, inside the state folder. Namespaces cannot start with ".", so it never clashes. */
export const CONFIG_FILE = ".managing-state.json";

type Flags = Partial<Record<keyof Settings, string | undefined>>;

/** What `init` saved, and whether this machine's `init` wrote it. */
interface Saved extends Flags {
  trusted(): boolean;
}

/** Resolves settings by precedence: flags, environment, saved config, defaults. */
export function resolveSettings(flags: Flags, env = readEnv()): Settings {
  const dir = flags.dir ?? env.dir ?? DEFAULT_DIR;
  const saved = readConfig(dir);
  const backend = flags.backend ?? env.backend ?? saved.backend ?? "json";
  // A URL or path saved for one backend is never used by another (a Redis URL is no KV path).
  const mine = saved.backend === backend;
  const pick = (name: "url" | "path") =>
    flags[name] ?? env[name] ?? (mine ? saved[name] : undefined);
  const settings: Settings = {
    backend,
    namespace: flags.namespace ?? env.namespace ?? saved.namespace ?? "default",
    dir,
  };
  const url = pick("url");
  const path = pick("path");
  if (url !== undefined) settings.url = url;
  if (path !== undefined) settings.path = path;
  const fromConfig = (["url", "path"] as const).find((n) =>
    settings[n] !== undefined && flags[n] === undefined && env[n] === undefined
  );
  if (fromConfig && isNetwork(backend, settings[fromConfig]!) && !saved.trusted()) {
    throw new ValidationError(
      `${join(dir, CONFIG_FILE)} was not written by "init" on this machine and sends state to ` +
        `${redact(settings[fromConfig]!)}: pass --${fromConfig} (or ${
          ENV[fromConfig]
        }) to use that server, or run "init" with your own settings`,
    );
  }
  return settings;
}

/** Where each setting's value comes from, for `--help`: its value (URL password hidden) and source. */
export function settingSources(
  flags: Flags,
  env = readEnv(),
): Record<keyof Settings, { value: string | undefined; from: string }> {
  const dir = flags.dir ?? env.dir ?? DEFAULT_DIR;
  let saved: Saved;
  try {
    saved = readConfig(dir);
  } catch {
    saved = { trusted: () => false }; // help still works next to a damaged config
  }
  const backend = flags.backend ?? env.backend ?? saved.backend ?? "json";
  const out = {} as Record<keyof Settings, { value: string | undefined; from: string }>;
  for (const name of ["backend", "namespace", "dir", "url", "path"] as const) {
    const fromSaved = name === "dir" || ((name === "url" || name === "path") &&
        saved.backend !== backend)
      ? undefined
      : saved[name];
    const [value, from] = flags[name] !== undefined
      ? [flags[name], `--${name}`]
      : env[name] !== undefined
      ? [env[name], ENV[name]]
      : fromSaved !== undefined
      ? [fromSaved, `init (${join(dir, CONFIG_FILE)})`]
      : [
        name === "backend"
          ? "json"
          : name === "namespace"
          ? "default"
          : name === "dir"
          ? dir
          : undefined,
        "default",
      ];
    out[name] = { value: name === "url" && value !== undefined ? redact(value) : value, from };
  }
  return out;
}

/** Whether the backend reaches a server at `where` (Redis, PostgreSQL; Deno KV by KV Connect URL). */
function isNetwork(backend: string, where: string): boolean {
  return backend === "redis" || backend === "postgres" || /^[a-z][a-z0-9+.-]*:\/\//i.test(where);
}

function readEnv(): Flags {
  const out: Flags = {};
  for (const [name, variable] of Object.entries(ENV)) {
    const value = env(variable);
    if (value) out[name as keyof Settings] = value;
  }
  return out;
}

/** The config saved by `init`, or nothing. */
export function readConfig(dir: string): Saved {
  const path = join(dir, CONFIG_FILE);
  let text: string | null;
  try {
    // Never through a link, never a FIFO or device (a planted one would hang every command).
    text = readText(path, 64 * 1024);
  } catch (error) {
    if (!(error instanceof StateError)) return { trusted: () => false };
    throw new ValidationError(
      `Config file ${path} cannot be used (${error.message.split(":")[0]}): ` +
        `remove it or run "init" again`,
      { cause: error },
    );
  }
  if (text === null) return { trusted: () => false };
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      `Config file ${path} is not valid JSON: fix it or run "init" again`,
      { cause: error },
    );
  }
  // init writes the file 0600 and names its host; a checked-out copy is neither.
  const out: Saved = { trusted: () => doc?.host === hostname() && isPrivateFile(path) };
  for (const name of ["backend", "namespace", "url", "path"] as const) {
    if (typeof doc?.[name] === "string") out[name] = doc[name];
  }
  return out;
}

function isPrivateFile(path: string): boolean {
  if (isWindows) return true;
  const st = lstatSync(path);
  return st.isFile() && (st.mode & 0o077) === 0 && st.uid === getuid();
}

/**
 * What `init` saves: the settings, without a URL given through the
 * environment (it stays there). Refuses a URL with a password.
 */
export function configToSave(settings: Settings, urlFromEnv = false): Record<string, string> {
  const path = join(settings.dir, CONFIG_FILE);
  const doc: Record<string, string> = { backend: settings.backend, namespace: settings.namespace };
  if (settings.path !== undefined) doc.path = settings.path;
  if (settings.url !== undefined && !urlFromEnv) {
    if (hasPassword(settings.url)) {
      throw new ValidationError(
        `Refusing to save a password in ${path}: keep the URL in the environment ` +
          `(${ENV.url} or ${settings.backend === "postgres" ? "DATABASE_URL" : "REDIS_URL"}) ` +
          `and run "init" without --url`,
      );
    }
    doc.url = settings.url;
  }
  doc.host = hostname();
  return doc;
}

/** Saves what {@linkcode configToSave} returns, in a file only the owner can read; returns its path. */
export function writeConfig(dir: string, doc: Record<string, string>): string {
  const path = join(dir, CONFIG_FILE);
  ensurePrivateDir(dir, true);
  atomicWrite(path, JSON.stringify(doc, null, 2) + "\n");
  return path;
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== "";
  } catch {
    // Not a URL a parser reads; a password after "user:" would still be one.
    return /^[a-z][a-z0-9+.-]*:\/\/[^/]*:[^/]*@/i.test(url);
  }
}
