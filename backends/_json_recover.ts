// Crash recovery for the JSON backend: break a dead writer's lock, remove
// its temp files, and rebuild a damaged snapshot or journal from the last
// good copy (the previous generation) or else the newest checkpoint. Damaged
// files are moved aside, never deleted.
import { copyFileSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { RecoveryReport } from "../types.ts";
import { isNotFound, listDir, TEMP_PREFIX } from "./_files.ts";
import {
  applyJournal,
  damaged,
  FILES,
  readBytes,
  readCheckpointFile,
  readCheckpointInfo,
  readSnapshot,
  type Rec,
  type Snapshot,
} from "./_json_format.ts";
import { acquireLock, breakLock, isStale, type LockOptions, readHolder } from "./_lock.ts";
import { StateDamagedError } from "../errors.ts";

/**
 * Recovers the namespace folder `dir`. `rebuild` is called (with the lock
 * held) to write the recovered entries as a new generation when a repair was
 * needed.
 */
export async function recoverNamespace(
  dir: string,
  lockOptions: LockOptions,
  rebuild: (entries: Map<string, Rec>, generation: number) => void,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { actions: [], quarantined: [], ok: true };
  const lockPath = join(dir, FILES.lock);
  const holder = readHolder(lockPath);
  if (holder && isStale(holder, lockOptions.staleMs ?? 60_000) && breakLock(lockPath, holder)) {
    report.actions.push(`removed a stale lock left by pid ${holder.pid} on ${holder.host}`);
  } else if (holder === null && breakLock(lockPath, null)) {
    report.actions.push("removed an unreadable lock file");
  }
  if (listDir(dir).length === 0) return report;
  const lock = await acquireLock(lockPath, lockOptions);
  try {
    for (const sub of [dir, join(dir, FILES.checkpoints)]) {
      for (const name of listDir(sub).filter((f) => f.startsWith(TEMP_PREFIX))) {
        unlinkSync(join(sub, name));
        report.actions.push(`removed temp file ${join(sub, name)}`);
      }
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
): { entries: Map<string, Rec>; generation: number } | null {
  const snapPath = join(dir, FILES.snapshot);
  const journalPath = join(dir, FILES.journal);
  let base: Snapshot | null;
  let repaired = false;
  const raw = readBytes(journalPath);
  try {
    base = readSnapshot(snapPath);
    if (!base && raw) throw damaged(snapPath, new Error("missing"));
  } catch (error) {
    if (!(error instanceof StateDamagedError)) throw error;
    report.quarantined.push(quarantine(snapPath));
    report.actions.push(`moved damaged ${snapPath} aside`);
    base = fromBackup(dir, report) ?? fromCheckpoint(checkpoints, report);
    repaired = true;
  }
  const generation = base?.generation ?? 0;
  const entries = base?.entries ?? new Map<string, Rec>();
  let journalGeneration = 0;
  if (raw) {
    const check = applyJournal(raw.bytes, new Map(), true);
    if (
      check.bad.length > 0 || check.generation === undefined
    ) {
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
  return { generation: 0, entries: new Map(entries.map((e) => [e.key, e])), bytes: 0 };
}

/** Moves (or, for a file still needed, copies) a damaged file aside; returns its new path. */
function quarantine(path: string, copy = false): string {
  const aside = `${path}.damaged-${new Date().toISOString().replaceAll(":", "")}`;
  try {
    if (copy) copyFileSync(path, aside);
    else renameSync(path, aside);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return aside;
}
