// A cross-process lock file that a crashed holder cannot leave stuck: it
// records its pid, host and a random token; a lock whose process is gone (or
// that is older than `staleMs`) is broken. Works the same on Deno and Node.
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { BackendError } from "../errors.ts";
import { isNotFound, tempPathFor, writeAll } from "./_files.ts";

/** Lock timing. */
export interface LockOptions {
  /** Give up waiting after this many ms. Default 10000. */
  timeoutMs?: number;
  /** Break a lock older than this even if its process seems alive. Default 60000. */
  staleMs?: number;
}

/** Who holds a lock. */
export interface Holder {
  pid: number;
  host: string;
  token: string;
  at: number;
}

const HOST = hostname();

/** A held lock; release it in a finally block. */
export interface HeldLock {
  release(): void;
}

/** Acquires the lock at `path`, waiting (asynchronously) while another process holds it. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 60_000;
  const start = Date.now();
  for (let attempt = 0;; attempt++) {
    const held = tryAcquire(path);
    if (held) return held;
    const holder = readHolder(path);
    if (holder === undefined) continue; // released just now
    // Lock files are written whole, so an unreadable one was damaged: give it 2 s.
    const stale = holder === null ? (lockFileAgeMs(path) ?? 0) > 2000 : isStale(holder, staleMs);
    if (stale) {
      breakLock(path, holder);
      continue;
    }
    if (Date.now() - start > timeoutMs) {
      throw new BackendError(
        `Timed out after ${timeoutMs} ms waiting for the lock ${path} held by pid ${
          holder?.pid ?? "?"
        } on ${holder?.host ?? "?"}: if that process is gone, run recover()`,
        { transient: true },
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(20, 1 + attempt) * Math.random()));
  }
}

/**
 * Takes the lock if it is free; undefined if someone holds it. The holder
 * record is written to a temp file first and hard-linked into place, so a
 * lock file is never seen half-written, even if its writer is killed.
 */
export function tryAcquire(path: string): HeldLock | undefined {
  const token = crypto.randomUUID();
  const temp = tempPathFor(path);
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeAll(fd, JSON.stringify({ pid: process.pid, host: HOST, token, at: Date.now() }));
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as { code?: string }).code === "EEXIST") return undefined;
    throw error;
  } finally {
    unlinkSync(temp);
  }
  return {
    release() {
      // Only remove the lock if it is still ours (it may have been broken as stale).
      if (readHolder(path)?.token === token) unlinkSync(path);
    },
  };
}

/** The lock's holder; undefined when there is no lock; null when it is unreadable. */
export function readHolder(path: string): Holder | null | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    const h = JSON.parse(text);
    return typeof h?.pid === "number" && typeof h?.token === "string" ? h : null;
  } catch {
    return null; // being written, or torn by a crash
  }
}

/** Whether the holder is gone (same host, dead pid) or the lock is too old. */
export function isStale(holder: Holder, staleMs: number): boolean {
  if (Date.now() - holder.at > staleMs) return true;
  if (holder.host !== HOST) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "ESRCH";
  }
}

/**
 * Removes a stale lock without ever removing a fresh one: move it aside,
 * check it is the stale one, and put it back if it is not.
 */
export function breakLock(path: string, stale: Holder | null): boolean {
  const aside = tempPathFor(path);
  try {
    renameSync(path, aside);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  const moved = readHolder(aside);
  if (moved?.token !== stale?.token) {
    try {
      linkSync(aside, path); // fails if another process took the lock meanwhile
    } catch { /* the new holder's lock wins; ours was moved aside */ }
    unlinkSync(aside);
    return false;
  }
  unlinkSync(aside);
  return true;
}

/** Milliseconds since the lock file was last written, or undefined if there is none. */
export function lockFileAgeMs(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}
