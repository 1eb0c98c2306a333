// Crash recovery for the JSON backend: break a dead writer's lock, remove
// its temp files, move links and special files aside, and rebuild a damaged
// snapshot or journal from the last good copy (the previous generation) or
// else the newest checkpoint. Damaged files are moved aside, never deleted.
import { joinPath as join } from "./_sys_platform.ts";
import { fs } from "./_fs_platform.ts";
import type { RecoveryReport } from "../types.ts";
import {
  isNotFound,
  kindOf,
  listDir,
  lstatOrNull,
  openRead,
  readAll,
  removeFile,
  TEMP_PREFIX,
  tempOwner,
  writeNewFile,
} from "./_files.ts";
import {
  applyJournal,
  damaged,
  Entries,
  FILES,
  type JournalBytes,
  MAX_FILE_BYTES,
  readBytes,
  readCheckpointFile,
  readCheckpointInfo,
  readSnapshot,
  type Snapshot,
} from "./_json_format.ts";
import { acquireLock, clearDeadLock, isAlive, type LockOptions } from "./_lock.ts";
import { StateDamagedError } from "../errors.ts";

const { closeSync, renameSync } = fs;

/** Marks a file moved aside by recover(); such files are left alone afterwards. */
const DAMAGED = ".damaged-";

/**
 * Recovers the namespace folder `dir`. `rebuild` is called (with the lock
 * held) to write the recovered entries as a new generation when a repair was
 * needed.
 */
export async function recoverNamespace(
  dir: string,
  lockOptions: LockOptions,
  rebuild: (entries: Entries, generation: number) => void,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { actions: [], quarantined: [], ok: true };
  const staleMs = lockOptions.staleMs ?? 60_000;
  const lockPath = join(dir, FILES.lock);
  report.actions.push(...clearDeadLock(lockPath, staleMs));
  if (listDir(dir).length === 0) return report;
  const lock = await acquireLock(lockPath, lockOptions);
  try {
    for (const sub of [dir, join(dir, FILES.checkpoints)]) {
      moveSpecialFilesAside(sub, report);
      removeTempFiles(sub, report, staleMs);
    }
    const checkpoints = quarantineBadCheckpoints(dir, report);
    const state = recoverState(dir, report, checkpoints);
    if (state) {
      rebuild(state.entries, state.generation);
      report.actions.push(`wrote a new snapshot with ${state.entries.size} keys`);
    }
  } finally {
    lock.release();
  }
  return report;
}

/**
 * Moves what stands where a namespace folder should be, when it is not a
 * folder (a link to one elsewhere, say), aside; returns what it did.
 */
export function setAsideNonFolder(path: string): { path: string; action: string } | null {
  const st = lstatOrNull(path);
  if (st === null || st.isDirectory()) return null;
  const aside = quarantine(path);
  return { path: aside, action: `moved ${kindOf(st)} ${path} aside: a namespace is a folder` };
}

/** Moves links, FIFOs, devices and sockets aside (the link itself; nothing is followed). */
function moveSpecialFilesAside(dir: string, report: RecoveryReport): void {
  for (const name of listDir(dir)) {
    if (name.includes(DAMAGED)) continue;
    const path = join(dir, name);
    const st = lstatOrNull(path);
    if (st === null || st.isFile() || st.isDirectory()) continue;
    report.quarantined.push(quarantine(path));
    report.actions.push(
      `moved ${kindOf(st)} ${path} aside: the backend never follows links or opens special files`,
    );
  }
}

/**
 * Removes temp files that crashed writers left. Lock and claim records are
 * written outside the lock by processes waiting for it, so those are removed
 * only when their process is gone or they are older than `staleMs`; every
 * other temp file is written under the lock, which recover() holds now.
 */
function removeTempFiles(dir: string, report: RecoveryReport, staleMs: number): void {
  for (const name of listDir(dir).filter((f) => f.startsWith(TEMP_PREFIX))) {
    const path = join(dir, name);
    if (name.startsWith(`${TEMP_PREFIX}${FILES.lock}`)) {
      const owner = tempOwner(name);
      const st = lstatOrNull(path);
      const old = st !== null && Math.abs(Date.now() - st.mtimeMs) > staleMs;
      if (!old && (owner === null || isAlive(owner))) continue;
    }
    if (removeFile(path)) report.actions.push(`removed temp file ${path}`);
  }
}

/** Moves unreadable checkpoint files aside; returns the readable ones, newest first. */
function quarantineBadCheckpoints(dir: string, report: RecoveryReport): string[] {
  const cpDir = join(dir, FILES.checkpoints);
  const good: { path: string; createdAt: number }[] = [];
  for (const f of listDir(cpDir).filter((f) => f.endsWith(".jsonl"))) {
    const path = join(cpDir, f);
    try {
      readCheckpointFile(path);
      good.push({ path, createdAt: readCheckpointInfo(path).createdAt });
    } catch (error) {
      if (!(error instanceof StateDamagedError)) throw error;
      report.quarantined.push(quarantine(path));
      report.actions.push(`moved damaged checkpoint ${path} aside`);
    }
  }
  return good.sort((a, b) => b.createdAt - a.createdAt).map((g) => g.path);
}

/** Returns entries to rebuild from when the snapshot or journal was damaged; null when both are fine. */
function recoverState(
  dir: string,
  report: RecoveryReport,
  checkpoints: string[],
): { entries: Entries; generation: number } | null {
  const snapPath = join(dir, FILES.snapshot);
  const journalPath = join(dir, FILES.journal);
  let base: Snapshot | null;
  let repaired = false;
  let raw: JournalBytes | null = null;
  try {
    raw = readBytes(journalPath);
  } catch (error) {
    if (!(error instanceof StateDamagedError)) throw error;
    report.quarantined.push(quarantine(journalPath));
    report.actions.push(`moved damaged ${journalPath} aside: ${error.message.split(":")[0]}`);
    repaired = true;
  }
  let intact = false; // the snapshot read fine
  try {
    base = readSnapshot(snapPath);
    if (!base && raw) throw damaged(snapPath, new Error("missing"));
    intact = base !== null;
  } catch (error) {
    if (!(error instanceof StateDamagedError)) throw error;
    report.quarantined.push(quarantine(snapPath));
    report.actions.push(`moved damaged ${snapPath} aside`);
    base = fromBackup(dir, report) ?? fromCheckpoint(checkpoints, report);
    repaired = true;
  }
  const generation = base?.generation ?? 0;
  const entries = base?.entries ?? new Entries();
  let journalGeneration = 0;
  if (raw) {
    const check = applyJournal(raw.bytes, new Map(), true);
    if (intact && check.generation !== undefined && check.generation > generation) {
      // A crash never leaves this (the snapshot is renamed into place first):
      // the journal belongs to a snapshot that is not here.
      report.quarantined.push(quarantine(journalPath));
      report.actions.push(
        `journal generation ${check.generation} is ahead of the snapshot's (${generation}): ` +
          `moved it aside; its changes are not applied`,
      );
      return { entries, generation: generation + 1 };
    }
    if (check.bad.length > 0 || check.generation === undefined) {
      report.quarantined.push(quarantine(journalPath, true));
      report.actions.push(
        check.generation === undefined
          ? "journal had no header: its changes since the last snapshot are lost"
          : `journal had ${check.bad.length} unreadable lines (${
            check.bad.join(", ")
          }); kept the rest`,
      );
      repaired = true;
    }
    // After a backup restore, the journal continues the generation that was damaged.
    if (check.generation !== undefined && check.generation >= generation) {
      applyJournal(raw.bytes, entries, true);
    }
    journalGeneration = check.generation ?? 0;
  }
  if (!repaired) return null;
  if (!base) {
    report.actions.push("no good copy or checkpoint was found: the namespace is empty now");
    report.ok = false;
  }
  return { entries, generation: Math.max(generation, journalGeneration) + 1 };
}

/** The previous generation: backup snapshot plus backup journal. */
function fromBackup(dir: string, report: RecoveryReport): Snapshot | null {
  let snap: Snapshot | null;
  try {
    snap = readSnapshot(join(dir, FILES.snapshotBackup));
  } catch {
    return null;
  }
  if (!snap) return null;
  const raw = readBytes(join(dir, FILES.journalBackup));
  if (raw && raw.generation === snap.generation) applyJournal(raw.bytes, snap.entries, true);
  report.actions.push(`restored the last good copy (generation ${snap.generation})`);
  return { ...snap, generation: snap.generation + 1 };
}

function fromCheckpoint(checkpoints: string[], report: RecoveryReport): Snapshot | null {
  const newest = checkpoints[0];
  if (!newest) return null;
  const { info, entries } = readCheckpointFile(newest);
  report.actions.push(
    `restored checkpoint ${JSON.stringify(info.name)}: changes made after it are lost`,
  );
  return { generation: 0, entries: new Entries(entries.map((e) => [e.key, e])), bytes: 0 };
}

/**
 * Moves (or, for a file still needed, copies) a damaged file aside, under a
 * name nobody can guess in advance; returns its new path. The copy is a new
 * file, so nothing planted under that name is written through.
 */
function quarantine(path: string, copy = false): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  const aside = `${path}${DAMAGED}${new Date().toISOString().replaceAll(":", "")}-${rand}`;
  try {
    if (!copy) renameSync(path, aside);
    else {
      const fd = openRead(path);
      if (fd === null) return aside;
      try {
        writeNewFile(aside, readAll(fd, path, 0, MAX_FILE_BYTES));
      } finally {
        closeSync(fd);
      }
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return aside;
}
