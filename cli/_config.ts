// CLI settings: flag, then environment, then the config `init` saved, then defaults.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DEFAULT_DIR } from "../backends/_open.ts";
import { atomicWrite, ensurePrivateDir } from "../backends/_files.ts";
import { ValidationError } from "../errors.ts";

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

/** Resolves settings by precedence: flags, environment, saved config, defaults. */
export function resolveSettings(flags: Flags, env = readEnv()): Settings {
  const dir = flags.dir ?? env.dir ?? DEFAULT_DIR;
  const saved = readConfig(dir);
  const pick = (name: keyof Settings) => flags[name] ?? env[name] ?? saved[name];
  const settings: Settings = {
    backend: pick("backend") ?? "json",
    namespace: pick("namespace") ?? "default",
    dir,
  };
  const url = pick("url");
  const path = pick("path");
  if (url !== undefined) settings.url = url;
  if (path !== undefined) settings.path = path;
  return settings;
}

function readEnv(): Flags {
  const out: Flags = {};
  for (const [name, variable] of Object.entries(ENV)) {
    const value = process.env[variable];
    if (value) out[name as keyof Settings] = value;
  }
  return out;
}

/** The config saved by `init`, or nothing. */
export function readConfig(dir: string): Flags {
  let text: string;
  try {
    text = readFileSync(join(dir, CONFIG_FILE), "utf8");
  } catch {
    return {};
  }
  try {
    const doc = JSON.parse(text);
    const out: Flags = {};
    for (const name of ["backend", "namespace", "url", "path"] as const) {
      if (typeof doc[name] === "string") out[name] = doc[name];
    }
    return out;
  } catch (error) {
    throw new ValidationError(
      `Config file ${join(dir, CONFIG_FILE)} is not valid JSON: fix it or run "init" again`,
      { cause: error },
    );
  }
}

/** Saves the settings `init` chose, in a file only the owner can read. */
export function writeConfig(settings: Settings): string {
  ensurePrivateDir(settings.dir);
  const path = join(settings.dir, CONFIG_FILE);
  const doc: Record<string, string> = { backend: settings.backend, namespace: settings.namespace };
  if (settings.path !== undefined) doc.path = settings.path;
  if (settings.url !== undefined) doc.url = settings.url;
  atomicWrite(path, JSON.stringify(doc, null, 2) + "\n");
  return path;
}
