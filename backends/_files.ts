// File helpers for the JSON backend: private files and folders, atomic
// replacement (unique temp file, fsync, rename, fsync of the folder).
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Prefix of temp files; `recover()` removes leftovers with it. */
export const TEMP_PREFIX = ".tmp-";

/** Creates a folder (and parents) readable only by the owner. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** A unique temp file path next to `path`. */
export function tempPathFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${rand[0]}${rand[1]}`);
}

/** Flushes a folder's entries (renames, creations) to disk. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot open or fsync a folder; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes `text` to a new private file and fsyncs it. */
export function writeNewFile(path: string, text: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeAll(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically with `text`: readers see the old or the new file, never a mix. */
export function atomicWrite(path: string, text: string, syncDir = true): void {
  const temp = tempPathFor(path);
  try {
    writeNewFile(temp, text);
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch { /* already gone */ }
    throw error;
  }
  if (syncDir) fsyncDir(dirname(path));
}

/** Writes a whole string to a file descriptor. */
export function writeAll(fd: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Names in a folder, or none if it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return [];
    throw error;
  }
}

export { type FileIdentity, fileIdentity } from "./_files_platform.ts";

/** Whether an error is a missing-file error. */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: string })?.code === "ENOENT";
}
