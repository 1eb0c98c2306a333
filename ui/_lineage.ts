// The UI's view of history and diffs: the one module that knows how the
// library exposes checkpoint lineage and changed values, so the History and
// Diff pages switch to newer library calls by changing this file only.
import type { StateManager } from "../state_manager.ts";
import type { CheckpointInfo, JsonValue, StoredEntry } from "../types.ts";
import { CheckpointNotFoundError } from "../errors.ts";

/** Most keys a diff lists with values per kind; the page says how many more there are. */
export const DIFF_LIMIT = 500;

/** The head: the checkpoint the namespace last took or restored. */
export interface HeadView {
  name: string;
  via: "checkpoint" | "restore";
  at: number;
}

/** One checkpoint as the History page shows it. */
export interface HistoryRow extends CheckpointInfo {
  /** The checkpoint it was taken on top of; null for a root or when unknown. */
  parent: string | null;
  /** Tree depth (0 for roots), for indentation. */
  depth: number;
  /** Whether it is the head or one of its ancestors (false: an abandoned branch). */
  onHeadPath: boolean;
}

/** What the History page gets. */
export interface History {
  head: HeadView | null;
  /** Whether the library records lineage (parent links and head). */
  lineage: boolean;
  /** Rows in tree order: each parent before its children, children oldest first. */
  rows: HistoryRow[];
}

/** The parent link of a checkpoint, where the library records one. */
function parentOf(info: CheckpointInfo): string | null {
  const parent = (info as { parent?: unknown }).parent;
  return typeof parent === "string" ? parent : null;
}

/** The namespace's checkpoints as a tree, with the head. */
export async function readHistory(state: StateManager): Promise<History> {
  const list = await state.listCheckpoints();
  const head = null as HeadView | null; // not recorded by this version of the library
  const lineage = list.some((c) => "parent" in c);
  return { head, lineage, rows: treeRows(list, head) };
}

/** Orders checkpoints parent-first (roots and siblings oldest first) and marks the head's path. */
export function treeRows(list: CheckpointInfo[], head: HeadView | null): HistoryRow[] {
  const byName = new Map(list.map((c) => [c.name, c]));
  const children = new Map<string | null, CheckpointInfo[]>();
  for (const c of list) {
    const p = parentOf(c);
    const key = p !== null && byName.has(p) ? p : null; // a pruned parent makes a root
    children.set(key, [...(children.get(key) ?? []), c]);
  }
  const onPath = new Set<string>();
  for (let n = head?.name ?? null, guard = 0; n !== null && guard <= list.length; guard++) {
    const c = byName.get(n);
    if (!c) break;
    onPath.add(n);
    n = parentOf(c);
  }
  const rows: HistoryRow[] = [];
  const seen = new Set<string>();
  const visit = (c: CheckpointInfo, depth: number) => {
    if (seen.has(c.name)) return; // a cycle in damaged data ends here
    seen.add(c.name);
    rows.push({ ...c, parent: parentOf(c), depth, onHeadPath: onPath.has(c.name) });
    const kids = (children.get(c.name) ?? []).sort((a, b) => a.createdAt - b.createdAt);
    // The child on the head's path continues this column; the others branch off.
    for (const k of kids) visit(k, kids.length > 1 && !onPath.has(k.name) ? depth + 1 : depth);
  };
  for (const root of (children.get(null) ?? []).sort((a, b) => a.createdAt - b.createdAt)) {
    visit(root, 0);
  }
  return rows;
}

/** One key in a diff: its value before and after (absent on the side it is missing from). */
export interface DiffRow {
  key: string;
  old?: JsonValue;
  new?: JsonValue;
}

/** A diff with values, each list cut at {@linkcode DIFF_LIMIT}. */
export interface ValueDiff {
  from: string;
  /** The newer checkpoint, or null for the current state. */
  to: string | null;
  added: DiffRow[];
  removed: DiffRow[];
  changed: DiffRow[];
  /** Full counts, before the cut. */
  counts: { added: number; removed: number; changed: number };
}

/** Keys added, removed and changed from `from` to `to` (or now), with old and new values. */
export async function diffValues(
  state: StateManager,
  from: string,
  to: string | null,
): Promise<ValueDiff> {
  const d = await state.diffCheckpoint(from, to ?? undefined);
  const take = (keys: string[]) => keys.slice(0, DIFF_LIMIT);
  const added = take(d.added);
  const removed = take(d.removed);
  const changed = take(d.changed);
  const before = await checkpointValues(state, from, [...removed, ...changed]);
  const after = to === null
    ? await state.loadMany([...added, ...changed])
    : await checkpointValues(state, to, [...added, ...changed]);
  const row = (key: string, withOld: boolean, withNew: boolean): DiffRow => ({
    key,
    ...(withOld && Object.hasOwn(before, key) ? { old: before[key]! } : {}),
    ...(withNew && Object.hasOwn(after, key) ? { new: after[key]! } : {}),
  });
  return {
    from,
    to,
    added: added.map((k) => row(k, false, true)),
    removed: removed.map((k) => row(k, true, false)),
    changed: changed.map((k) => row(k, true, true)),
    counts: { added: d.added.length, removed: d.removed.length, changed: d.changed.length },
  };
}

/** Values of some keys as a checkpoint holds them (expired entries left out, as in diffs). */
async function checkpointValues(
  state: StateManager,
  name: string,
  keys: string[],
): Promise<Record<string, JsonValue>> {
  const wanted = new Set(keys);
  const out: Record<string, JsonValue> = {};
  if (wanted.size === 0) return out;
  const entries: StoredEntry[] | null = await state.backend.readCheckpoint(state.namespace, name);
  if (!entries) throw new CheckpointNotFoundError(state.namespace, name, "read");
  const now = Date.now();
  for (const e of entries) {
    if (wanted.has(e.key) && (e.expiresAt === null || e.expiresAt > now)) {
      out[e.key] = JSON.parse(e.value);
    }
  }
  return out;
}
