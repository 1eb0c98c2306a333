// Copies one namespace into a target backend and verifies the copy by count
// and content hash. Idempotent: equal keys and checkpoints are not written
// again, so an interrupted run can simply be run again.
import { createHash } from "node:crypto";
import { newVersion } from "./_ids.ts";
import { compareKeys } from "./_keys.ts";
import { keyPages, PAGE, type SourceCheckpoint, type SourceNamespace } from "./_migrate_source.ts";
import type { Backend, CheckpointInfo, StoredEntry } from "./types.ts";
import { byteLength } from "./_validate.ts";

/** What happened to one namespace. */
export interface NamespaceReport {
  /** The namespace. */
  namespace: string;
  /** Keys in the source. */
  keys: number;
  /** Keys written to the target (or that would be, in a dry run). */
  written: number;
  /** Keys already equal in the target. */
  unchanged: number;
  /** Keys that differ in the target and were kept (no `overwrite`). */
  skippedKeys: string[];
  /** Keys only in the target: deleted with `overwrite`, else reported. */
  extraKeys: string[];
  /** Checkpoints in the source. */
  checkpoints: number;
  /** Checkpoints written to the target (or that would be). */
  checkpointsWritten: number;
  /** Checkpoints that differ in the target and were kept (no `overwrite`). */
  skippedCheckpoints: string[];
  /** Bytes of keys and values copied (source side). */
  bytes: number;
  /** Source and target hashes (sha256 of the namespace's keys, values and expiries). */
  sourceHash: string;
  /** The target's hash after copying; null in a dry run. */
  targetHash: string | null;
  /** Checkpoints whose copy differs from the source (names). */
  checkpointMismatches: string[];
  /** Whether the target now holds exactly the source's keys and checkpoints. */
  verified: boolean;
}

/** Copy settings. */
export interface CopyOptions {
  dryRun: boolean;
  overwrite: boolean;
  onProgress?: (event: ProgressEvent) => void;
}

/** Progress of a migration, for progress bars. */
export interface ProgressEvent {
  /** The namespace being copied. */
  namespace: string;
  /** What is being copied. */
  phase: "keys" | "checkpoints";
  /** Items done so far in this namespace and phase. */
  done: number;
  /** Items in all, when known. */
  total: number | undefined;
}

/** A running sha256 over entries in byte order. */
class ContentHash {
  #hash = createHash("sha256");
  add(e: { key: string; value: string; expiresAt: number | null }): void {
    this.#hash.update(`${JSON.stringify(e.key)}\t${e.value}\t${e.expiresAt}\n`);
  }
  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** The content hash of a checkpoint: its identity, metadata and entries. */
export function checkpointHash(info: CheckpointInfo, entries: StoredEntry[]): string {
  const h = new ContentHash();
  h.add({
    key: info.name,
    value: JSON.stringify([info.createdAt, info.auto, info.metadata]),
    expiresAt: null,
  });
  for (const e of [...entries].sort((a, b) => compareKeys(a.key, b.key))) h.add(e);
  return h.digest();
}

/** Copies `src` into `target` and verifies it. */
export async function copyNamespace(
  src: SourceNamespace,
  target: Backend,
  options: CopyOptions,
): Promise<NamespaceReport> {
  const ns = src.name;
  const report: NamespaceReport = {
    namespace: ns,
    keys: 0,
    written: 0,
    unchanged: 0,
    skippedKeys: [],
    extraKeys: [],
    checkpoints: 0,
    checkpointsWritten: 0,
    skippedCheckpoints: [],
    bytes: 0,
    sourceHash: "",
    targetHash: null,
    checkpointMismatches: [],
    verified: false,
  };
  const hash = new ContentHash();
  const sourceKeys = new Set<string>();
  for await (const page of src.pages()) {
    const existing = await target.get(ns, page.map((e) => e.key));
    const sets = [];
    for (const [i, e] of page.entries()) {
      hash.add(e);
      sourceKeys.add(e.key);
      report.keys++;
      report.bytes += byteLength(e.key) + byteLength(e.value);
      const t = existing[i];
      if (t && t.value === e.value && t.expiresAt === e.expiresAt) report.unchanged++;
      else if (t && !options.overwrite) report.skippedKeys.push(e.key);
      else sets.push({ key: e.key, value: e.value, expiresAt: e.expiresAt });
    }
    report.written += sets.length;
    if (!options.dryRun && sets.length) {
      await target.commit(ns, { version: newVersion(), checks: [], sets, deletes: [] });
    }
    options.onProgress?.({ namespace: ns, phase: "keys", done: report.keys, total: src.keyCount });
  }
  report.sourceHash = hash.digest();
  for await (const keys of keyPages(target, ns)) {
    report.extraKeys.push(...keys.filter((k) => !sourceKeys.has(k)));
  }
  if (options.overwrite && !options.dryRun) {
    for (let i = 0; i < report.extraKeys.length; i += PAGE) {
      const deletes = report.extraKeys.slice(i, i + PAGE);
      await target.commit(ns, { version: newVersion(), checks: [], sets: [], deletes });
    }
  }
  const sourceCheckpoints = new Map<string, string>();
  const targetInfos = new Map((await target.listCheckpoints(ns)).map((c) => [c.name, c]));
  for await (const cp of src.checkpoints()) {
    report.checkpoints++;
    const wanted = checkpointHash(cp.info, cp.entries);
    sourceCheckpoints.set(cp.info.name, wanted);
    if (targetInfos.has(cp.info.name)) {
      if (await targetCheckpointHash(target, ns, targetInfos.get(cp.info.name)!) === wanted) {
        continue;
      }
      if (!options.overwrite) {
        report.skippedCheckpoints.push(cp.info.name);
        continue;
      }
    }
    report.checkpointsWritten++;
    if (!options.dryRun) await writeCheckpoint(target, ns, cp);
    options.onProgress?.({
      namespace: ns,
      phase: "checkpoints",
      done: report.checkpoints,
      total: undefined,
    });
  }
  if (options.dryRun) return report;
  await verify(target, ns, report, sourceCheckpoints);
  return report;
}

async function verify(
  target: Backend,
  ns: string,
  report: NamespaceReport,
  sourceCheckpoints: Map<string, string>,
): Promise<void> {
  const hash = new ContentHash();
  for await (const keys of keyPages(target, ns)) {
    for (const e of await target.get(ns, keys)) if (e) hash.add(e);
  }
  report.targetHash = hash.digest();
  for (const info of await target.listCheckpoints(ns)) {
    const wanted = sourceCheckpoints.get(info.name);
    if (wanted !== undefined && await targetCheckpointHash(target, ns, info) !== wanted) {
      report.checkpointMismatches.push(info.name);
    }
  }
  const names = new Set((await target.listCheckpoints(ns)).map((c) => c.name));
  for (const name of sourceCheckpoints.keys()) {
    if (!names.has(name)) report.checkpointMismatches.push(name);
  }
  report.verified = report.targetHash === report.sourceHash &&
    report.checkpointMismatches.length === 0;
}

async function targetCheckpointHash(
  target: Backend,
  ns: string,
  info: CheckpointInfo,
): Promise<string | null> {
  const entries = await target.readCheckpoint(ns, info.name);
  return entries && checkpointHash(info, entries);
}

/**
 * Writes a checkpoint into the target: natively when the backend can, else by
 * making the namespace the checkpoint's content for a moment, checkpointing
 * it, and restoring what was there.
 */
async function writeCheckpoint(target: Backend, ns: string, cp: SourceCheckpoint): Promise<void> {
  const { info, entries } = cp;
  if (target.importCheckpoint) return await target.importCheckpoint(ns, info, entries);
  const hold = `migrate-hold-${newVersion()}`;
  await target.checkpoint(ns, {
    name: hold,
    createdAt: Date.now(),
    auto: false,
    metadata: {},
    overwrite: true,
  });
  try {
    const current: string[] = [];
    for await (const keys of keyPages(target, ns)) current.push(...keys);
    const wanted = new Set(entries.map((e) => e.key));
    await target.commit(ns, {
      version: newVersion(),
      checks: [],
      sets: entries.map((e) => ({ key: e.key, value: e.value, expiresAt: e.expiresAt })),
      deletes: current.filter((k) => !wanted.has(k)),
    });
    await target.checkpoint(ns, { ...info, overwrite: true });
  } finally {
    await target.restore(ns, hold);
    await target.deleteCheckpoint(ns, hold);
  }
}
