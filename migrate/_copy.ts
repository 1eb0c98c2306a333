// Copies one namespace into a target backend and verifies the copy key by key
// and checkpoint by checkpoint. Idempotent: equal keys and checkpoints are not
// written again, so an interrupted run can simply be run again.
import { createHash } from "node:crypto";
import { entryBytes } from "../backends/_shared.ts";
import { newVersion } from "../core/_ids.ts";
import { compareKeys } from "../core/_keys.ts";
import { keyPages, PAGE, type SourceNamespace } from "./_source.ts";
import { Ledger, verifyKeys } from "./_verify.ts";
import type { Backend, CheckpointInfo, StoredEntry } from "../types.ts";

/** What happened to one namespace. */
export interface NamespaceReport {
  /** The namespace. */
  namespace: string;
  /** Its name in the source, when it was renamed on the way (a legacy name with ":"). */
  renamedFrom?: string;
  /** Keys read from the source. */
  keys: number;
  /** Keys written to the target (or that would be, in a dry run). */
  written: number;
  /** Keys already equal in the target. */
  unchanged: number;
  /** Keys that differ in the target and were kept (no `overwrite`). */
  skippedKeys: string[];
  /** Keys only in the target: deleted with `overwrite`, else kept and reported. */
  extraKeys: string[];
  /** Source keys absent from the target after copying (a failed copy). */
  missingKeys: string[];
  /** Keys written but not equal to the source afterwards (a failed copy). */
  mismatchedKeys: string[];
  /** Source keys that expired during the run; they are not compared. */
  expiredKeys: number;
  /** Of those, the keys that expired after they were listed but before they were read: not copied. */
  expiredBeforeRead: string[];
  /** Source keys copied without the expiry they have in the source (legacy-redis without keepTtl). */
  ttlsDropped: number;
  /** Live keys in the target after copying; null in a dry run. */
  targetKeys: number | null;
  /** Checkpoints in the source. */
  checkpoints: number;
  /** Checkpoints written to the target (or that would be). */
  checkpointsWritten: number;
  /** Checkpoints that differ in the target and were kept (no `overwrite`). */
  skippedCheckpoints: string[];
  /** Checkpoints whose copy differs from the source, or is missing. */
  checkpointMismatches: string[];
  /** Checkpoint content hashes (SHA-256) by name, from the source. */
  checkpointHashes: Record<string, string>;
  /** Bytes of keys and values read from the source. */
  bytes: number;
  /** SHA-256 over the source's live keys and 64-bit entry digests, in UTF-8 key order; "" in a dry run. */
  sourceHash: string;
  /** The same over the target after copying; null in a dry run. */
  targetHash: string | null;
  /** Whether the target now holds exactly the source's keys and checkpoints. */
  verified: boolean;
}

/** Copy settings. */
export interface CopyOptions {
  dryRun: boolean;
  overwrite: boolean;
  /** Checkpoint entries that expired before this time are left out of checkpoint hashes. */
  since: number;
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

/**
 * The content hash of a checkpoint: SHA-256 over its name, creation time,
 * kind and metadata, then its entries (key, value, expiry) in UTF-8 key
 * order. Entries that expired before `since` are left out: they restore to
 * nothing, and a backend may drop them.
 */
export function checkpointHash(info: CheckpointInfo, entries: StoredEntry[], since = 0): string {
  const h = createHash("sha256");
  h.update(`${JSON.stringify([info.name, info.createdAt, info.auto, info.metadata])}\n`);
  const live = entries.filter((e) => e.expiresAt === null || e.expiresAt > since);
  for (const e of live.sort((a, b) => compareKeys(a.key, b.key))) {
    h.update(`${JSON.stringify(e.key)}\t${e.value}\t${e.expiresAt}\n`);
  }
  return h.digest("hex");
}

function emptyReport(namespace: string): NamespaceReport {
  return {
    namespace,
    keys: 0,
    written: 0,
    unchanged: 0,
    skippedKeys: [],
    extraKeys: [],
    missingKeys: [],
    mismatchedKeys: [],
    expiredKeys: 0,
    expiredBeforeRead: [],
    ttlsDropped: 0,
    targetKeys: null,
    checkpoints: 0,
    checkpointsWritten: 0,
    skippedCheckpoints: [],
    checkpointMismatches: [],
    checkpointHashes: {},
    bytes: 0,
    sourceHash: "",
    targetHash: null,
    verified: false,
  };
}

/** Copies `src` into `target` and verifies it. */
export async function copyNamespace(
  src: SourceNamespace,
  target: Backend,
  options: CopyOptions,
): Promise<NamespaceReport> {
  const ns = src.name;
  const report = emptyReport(ns);
  if (src.sourceName !== undefined) report.renamedFrom = src.sourceName;
  const ledger = new Ledger();
  // A namespace that is empty in the target (the usual first run) needs no reads before writing.
  const fresh = (await target.list(ns, { limit: 1 })).keys.length === 0;
  for await (const page of src.pages()) {
    const existing = fresh ? [] : await target.get(ns, page.map((e) => e.key));
    const sets = [];
    for (const [i, e] of page.entries()) {
      ledger.addSource(e);
      report.keys++;
      report.bytes += entryBytes(e);
      const t = existing[i];
      if (t && t.value === e.value && t.expiresAt === e.expiresAt) report.unchanged++;
      else if (t && !options.overwrite) report.skippedKeys.push(e.key);
      else sets.push({ key: e.key, value: e.value, expiresAt: e.expiresAt });
    }
    report.written += sets.length;
    if (!options.dryRun && sets.length) {
      const id = newVersion();
      await target.commit(ns, { id, version: id, checks: [], sets, deletes: [] });
    }
    options.onProgress?.({ namespace: ns, phase: "keys", done: report.keys, total: src.keyCount });
  }
  const notes = src.notes?.();
  if (notes) {
    report.expiredBeforeRead = notes.expired;
    report.ttlsDropped = notes.ttlsDropped;
    // Expired in the source before it could be read: compared on neither side, never deleted.
    for (const key of notes.expired) ledger.addGone(key);
  }
  for await (const keys of fresh ? [] : keyPages(target, ns)) {
    report.extraKeys.push(...keys.filter((k) => !ledger.has(k)));
  }
  if (options.overwrite && !options.dryRun) {
    for (let i = 0; i < report.extraKeys.length; i += PAGE) {
      const deletes = report.extraKeys.slice(i, i + PAGE);
      const id = newVersion();
      await target.commit(ns, { id, version: id, checks: [], sets: [], deletes });
    }
  }
  await copyCheckpoints(src, target, report, options);
  if (options.dryRun) return report;
  // The lineage head travels too: the source's, as it is (none from sources without lineage).
  if (src.head) await target.importHead(ns, await src.head());
  const check = await verifyKeys(target, ns, ledger);
  const skipped = new Set(report.skippedKeys);
  report.missingKeys = check.missing;
  report.mismatchedKeys = check.differing.filter((k) => !skipped.has(k));
  const extra = new Set(report.extraKeys);
  report.extraKeys.push(...check.extra.filter((k) => !extra.has(k)));
  report.expiredKeys = check.expired;
  report.targetKeys = check.targetKeys;
  report.sourceHash = check.sourceHash;
  report.targetHash = check.targetHash;
  await verifyCheckpoints(target, ns, report, options.since);
  report.verified = check.sourceHash === check.targetHash &&
    check.sourceKeys === check.targetKeys &&
    check.missing.length + check.differing.length + check.extra.length === 0 &&
    report.checkpointMismatches.length === 0 && report.skippedCheckpoints.length === 0;
  return report;
}

async function copyCheckpoints(
  src: SourceNamespace,
  target: Backend,
  report: NamespaceReport,
  options: CopyOptions,
): Promise<void> {
  const ns = src.name;
  const targetInfos = new Map((await target.listCheckpoints(ns)).map((c) => [c.name, c]));
  for await (const cp of src.checkpoints()) {
    report.checkpoints++;
    const wanted = checkpointHash(cp.info, cp.entries, options.since);
    report.checkpointHashes[cp.info.name] = wanted;
    const existing = targetInfos.get(cp.info.name);
    const same = existing !== undefined &&
      await targetCheckpointHash(target, ns, existing, options.since) === wanted;
    if (!same && existing && !options.overwrite) report.skippedCheckpoints.push(cp.info.name);
    else if (!same) {
      report.checkpointsWritten++;
      if (!options.dryRun) await target.importCheckpoint(ns, cp.info, cp.entries);
    }
    options.onProgress?.({
      namespace: ns,
      phase: "checkpoints",
      done: report.checkpoints,
      total: undefined,
    });
  }
}

async function verifyCheckpoints(
  target: Backend,
  ns: string,
  report: NamespaceReport,
  since: number,
): Promise<void> {
  const infos = new Map((await target.listCheckpoints(ns)).map((c) => [c.name, c]));
  const skipped = new Set(report.skippedCheckpoints);
  for (const [name, wanted] of Object.entries(report.checkpointHashes)) {
    if (skipped.has(name)) continue;
    const info = infos.get(name);
    if (!info || await targetCheckpointHash(target, ns, info, since) !== wanted) {
      report.checkpointMismatches.push(name);
    }
  }
}

async function targetCheckpointHash(
  target: Backend,
  ns: string,
  info: CheckpointInfo,
  since: number,
): Promise<string | null> {
  const entries = await target.readCheckpoint(ns, info.name);
  return entries && checkpointHash(info, entries, since);
}
