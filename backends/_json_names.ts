// How the JSON backend turns namespace and checkpoint names into file names
// (documented in references/backends.md). The encoding is injective and its
// output has no upper-case letters, no Windows device names (CON, NUL, COM1,
// ...) and no trailing dot, so two names never share a file, even on a
// case-insensitive or Windows file system.
import { ValidationError } from "../errors.ts";

/** Names that are devices on Windows, whatever their case or extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;
/** What a namespace may hold; names of this shape get readable file names. */
const PLAIN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** What an encoded name may hold. */
const ENCODED = /^[a-z0-9_^][a-z0-9._^-]*$/;
/** Longest file name most file systems allow, in bytes (encoded names are ASCII). */
const MAX_FILE_NAME = 255;
/** Longest readable checkpoint file stem; longer or other names are hashed. */
const MAX_READABLE_STEM = 200;

/**
 * Encodes a plain name (letters, digits, ".", "_", "-"): an upper-case letter
 * becomes "^" and its lower-case form; a Windows device name before the
 * first "." gets a "^" after it; a trailing "." gets a "^" after it.
 * "Plan" -> "^plan", "con" -> "con^", "nul.x" -> "nul^.x", "a." -> "a.^".
 */
export function encodeName(name: string): string {
  let out = name.replace(/[A-Z]/g, (c) => `^${c.toLowerCase()}`);
  const dot = out.indexOf(".");
  const base = dot === -1 ? out : out.slice(0, dot);
  if (RESERVED.test(base)) out = `${base}^${out.slice(base.length)}`;
  if (out.endsWith(".")) out += "^";
  return out;
}

/** The name an encoded file name stands for, or null when it is not an encoding of one. */
export function decodeName(encoded: string): string | null {
  if (!ENCODED.test(encoded)) return null;
  const name = encoded.replace(/\^([a-z]?)/g, (_, c: string) => c.toUpperCase());
  // Only the canonical encoding counts, so each file name has one meaning.
  return PLAIN.test(name) && encodeName(name) === encoded ? name : null;
}

/** The folder of a (valid) namespace inside the state folder. */
export function namespaceFolder(ns: string): string {
  const folder = encodeName(ns);
  if (folder.length > MAX_FILE_NAME) {
    throw new ValidationError(
      `Namespace ${JSON.stringify(ns)} needs a folder name of ${folder.length} characters ` +
        `on the JSON backend (each capital letter takes two); the limit is ${MAX_FILE_NAME}`,
    );
  }
  return folder;
}

/**
 * The namespace a folder name holds: its decoding, or for a folder written
 * before this encoding (the namespace itself, e.g. "Plan"), that name.
 */
export function namespaceOfFolder(folder: string): string | null {
  return decodeName(folder) ?? (PLAIN.test(folder) ? folder : null);
}

/**
 * The checkpoint file of a name: `<encoded name>.jsonl` for a plain name, else
 * `~<SHA-256 of its UTF-8 bytes>.jsonl`; the name is also stored inside the
 * file and checked on every read, so a file never stands for another name.
 */
export async function checkpointFile(name: string): Promise<string> {
  if (PLAIN.test(name)) {
    const stem = encodeName(name);
    if (stem.length <= MAX_READABLE_STEM) return `${stem}.jsonl`;
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name));
  return `~${
    [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")
  }.jsonl`;
}

/**
 * Where the release before this encoding put a checkpoint: the name itself
 * when it was file-safe, else a 64-bit FNV hash. Read (and replaced on the
 * next write) so checkpoints written then still open.
 */
export function legacyCheckpointFile(name: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9._-]{0,150}$/.test(name)) return `${name}.jsonl`;
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (const byte of new TextEncoder().encode(name)) {
    a = Math.imul(a ^ byte, 0x01000193) >>> 0;
    b = Math.imul(b ^ byte, 0x01000193 + 0x2c) >>> 0;
  }
  return `~${a.toString(16).padStart(8, "0")}${b.toString(16).padStart(8, "0")}.jsonl`;
}
