// A cross-process lock file that a crashed holder cannot leave stuck and that
// two processes never hold at once. Works the same on Deno and Node.
//
// The lock file holds its holder's record {pid, host, token, at}. It is
// created whole: the record is written to a temp file and hard-linked into
// place, which fails while a lock is there. Every other change of the lock
// file (a release, the takeover of a stale lock) first *claims* the record it
// changes: it creates `<lock>.claim-<token>` exclusively, checks that the
// lock still holds that token, and only then replaces or removes it. Only one
// process can hold a claim and a token never comes back, so nothing ever
// changes a lock file that someone else changed in between. A claim whose
// claimant died is taken over the same way.
import {
  basenamePath as basename,
  dirnamePath as dirname,
  hostname,
  joinPath as join,
  pid as ownPid,
  probeProcess,
} from "./_sys_platform.ts";
import { fs } from "./_fs_platform.ts";
import { contention } from "./_errors_file.ts";
import {
  code,
  listDir,
  lstatOrNull,
  readSmall,
  removeFile,
  removeQuietly,
  tempPathFor,
  writeNewFile,
} from "./_files.ts";

const { linkSync, renameSync } = fs;

/** Lock timing. */
export interface LockOptions {
  /** Give up waiting after this many ms. Default 10000. */
  timeoutMs?: number;
  /**
   * Break a lock older than this (or dated this far in the future) even if
   * its process seems alive. Default 60000.
   */
  staleMs?: number;
}

/** Who holds a lock (or a claim). */
export interface Holder {
  pid: number;
  host: string;
  token: string;
  at: number;
}

/** What a lock or claim file held when it was looked at: a record, or an unreadable file. */
type Seen = { holder: Holder; ino: number } | { holder: null; ino: number; mtimeMs: number };

const HOST = hostname();
/** Claim files are named `<lock>.claim-<token>`. */
export const CLAIM = ".claim-";
/** Grace for an unreadable lock or claim: claims are written after they are created. */
const UNREADABLE_GRACE_MS = 2000;
const TOKEN = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Test hooks: `pause` is called at each step of a takeover or release, so a
 * test can slow one contender at the critical moment. Not part of the API.
 */
export const lockTestHooks: { pause?: (step: "takeover" | "claimed" | "verified") => void } = {};

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
    const held = tryAcquire(path, staleMs);
    if (held) return held;
    const seen = look(path);
    if (seen === undefined) continue; // released just now
    if (isStaleSeen(seen, staleMs)) {
      lockTestHooks.pause?.("takeover");
      const mine = writeRecord(path);
      if (swap(path, path, seen, mine.temp, staleMs)) return heldLock(path, mine.token, staleMs);
      removeQuietly(mine.temp);
    }
    if (Date.now() - start > timeoutMs) {
      const h = seen.holder;
      throw contention(
        `Timed out after ${timeoutMs} ms waiting for the lock ${path} held by pid ${
          h?.pid ?? "?"
        } on ${h?.host ?? "?"}: if that process is gone, run recover()`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(20, 1 + attempt) * Math.random()));
  }
}

/** Takes the lock if it is free; undefined if someone holds it. */
export function tryAcquire(path: string, staleMs = 60_000): HeldLock | undefined {
  const { temp, token } = writeRecord(path);
  try {
    linkSync(temp, path);
  } catch (error) {
    if (code(error) === "EEXIST") return undefined;
    throw error;
  } finally {
    removeQuietly(temp);
  }
  return heldLock(path, token, staleMs);
}

function heldLock(path: string, token: string, staleMs: number): HeldLock {
  const since = performance.now();
  return {
    release() {
      // Nobody takes over a lock younger than staleMs (its holder is alive: this
      // process), so until then removing it after checking it is ours is safe and
      // cheap; an older one may be being taken over, so it is released by a claim.
      if (performance.now() - since < staleMs / 2) {
        if (look(path)?.holder?.token === token) removeFile(path);
        return;
      }
      const ours: Seen = { holder: { pid: ownPid, host: HOST, token, at: 0 }, ino: 0 };
      swap(path, path, ours, null, staleMs);
    },
  };
}

/** Writes this process's record to a new temp file next to `path`. */
function writeRecord(path: string): { temp: string; token: string } {
  const token = crypto.randomUUID();
  const temp = tempPathFor(path);
  writeNewFile(temp, record(token), false);
  return { temp, token };
}

function record(token: string): string {
  return JSON.stringify({ pid: ownPid, host: HOST, token, at: Date.now() });
}

/**
 * Replaces the record `seen` at `file` by the file `temp` (or removes it when
 * `temp` is null) if, and only if, `file` still holds that record. False when
 * it does not, or when another process is changing it right now.
 */
function swap(
  lock: string,
  file: string,
  seen: Seen,
  temp: string | null,
  staleMs: number,
  depth = 0,
): boolean {
  const claim = `${lock}${CLAIM}${seen.holder ? seen.holder.token : `i${seen.ino}`}`;
  let token: string = crypto.randomUUID();
  const claimed = performance.now();
  if (!createClaim(claim, token)) {
    const claimant = look(claim);
    if (claimant === undefined || depth >= 3 || !isStaleSeen(claimant, staleMs)) return false;
    // Its claimant died while changing the lock: take the claim over the same way.
    const mine = writeRecord(claim);
    if (!swap(lock, claim, claimant, mine.temp, staleMs, depth + 1)) {
      removeQuietly(mine.temp);
      return false;
    }
    token = mine.token;
  }
  try {
    lockTestHooks.pause?.("claimed");
    if (!same(look(file), seen)) return false;
    lockTestHooks.pause?.("verified");
    // Nobody else changes `file` while we hold the claim of what it holds.
    if (temp === null) removeFile(file);
    else renameSync(temp, file);
    return true;
  } finally {
    // Only a claim older than staleMs can have been taken over (its claimant judged
    // gone): a younger one is surely still ours; an older one is checked first.
    if (performance.now() - claimed < staleMs / 2 || look(claim)?.holder?.token === token) {
      removeFile(claim);
    }
  }
}

/** Creates a claim file exclusively; false when it exists. */
function createClaim(claim: string, token: string): boolean {
  try {
    writeNewFile(claim, record(token), false);
    return true;
  } catch (error) {
    if (code(error) === "EEXIST") return false;
    throw error;
  }
}

function same(now: Seen | undefined, seen: Seen): boolean {
  if (now === undefined) return false;
  if (seen.holder) return now.holder?.token === seen.holder.token;
  // An unreadable file is known by its inode; a record written since is readable.
  return now.holder === null && now.ino === seen.ino;
}

/** What a lock or claim file holds; undefined when there is none. */
function look(path: string): Seen | undefined {
  const read = readSmall(path, 4096);
  if (read === null) return undefined;
  const holder = read.text === null ? null : parseHolder(read.text);
  // A readable record is known by its token; anything else (a torn record, a
  // link, a FIFO) by its inode, which the record written after it will not have.
  if (holder) return { holder, ino: 0 };
  const st = lstatOrNull(path);
  return st ? { holder: null, ino: st.ino, mtimeMs: st.mtimeMs } : undefined;
}

function parseHolder(text: string): Holder | null {
  try {
    const h = JSON.parse(text);
    const ok = Number.isInteger(h?.pid) && h.pid > 0 && typeof h.host === "string" &&
      typeof h.token === "string" && TOKEN.test(h.token) && typeof h.at === "number";
    return ok ? { pid: h.pid, host: h.host, token: h.token, at: h.at } : null;
  } catch {
    return null; // torn by a crash, or not ours
  }
}

/**
 * Whether the holder is gone: it is older than `staleMs` or dated more than
 * that in the future (no live process on this clock wrote it), or it is of
 * this host and its process is dead.
 */
export function isStale(holder: Holder, staleMs: number): boolean {
  const age = Date.now() - holder.at;
  if (!(Math.abs(age) <= staleMs)) return true;
  return holder.host === HOST && !isAlive(holder.pid);
}

/** Whether a process of this host is alive (true when that cannot be checked). */
export function isAlive(pid: number): boolean {
  try {
    probeProcess(pid);
    return true;
  } catch (error) {
    return code(error) !== "ESRCH";
  }
}

function isStaleSeen(seen: Seen, staleMs: number): boolean {
  if (seen.holder) return isStale(seen.holder, staleMs);
  // Lock files are written whole, so an unreadable one was damaged: give it a moment.
  return Math.abs(Date.now() - seen.mtimeMs) > UNREADABLE_GRACE_MS;
}

/**
 * For `recover()`: removes the lock when its holder is gone, dated in the
 * future, of another host (this backend serves one machine) or unreadable,
 * and removes claims whose claimant is gone. Returns what it did.
 */
export function clearDeadLock(path: string, staleMs: number): string[] {
  const done: string[] = [];
  const seen = look(path);
  const h = seen?.holder;
  let why: string | null = null;
  if (seen && !h) why = "an unreadable lock file";
  else if (h && h.at - Date.now() > staleMs) {
    why = `a lock of pid ${h.pid} on ${h.host} dated in the future (${stamp(h.at)})`;
  } else if (h && h.host !== HOST) {
    why = `a lock of pid ${h.pid} on another host, ${h.host} (this backend serves one machine)`;
  } else if (h && isStale(h, staleMs)) why = `a stale lock left by pid ${h.pid} on ${h.host}`;
  if (seen && why && swap(path, path, seen, null, staleMs)) done.push(`removed ${why}`);
  const prefix = `${basename(path)}${CLAIM}`;
  for (const name of listDir(dirname(path)).filter((n) => n.startsWith(prefix))) {
    const claim = join(dirname(path), name);
    const claimant = look(claim);
    if (claimant && isStaleSeen(claimant, staleMs) && swap(path, claim, claimant, null, staleMs)) {
      done.push(`removed a lock claim left by a dead process (${name})`);
    }
  }
  return done;
}

function stamp(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
