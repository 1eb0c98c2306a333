// The UI's view of history and diffs: the one module that knows how the
// library exposes checkpoint lineage and changed values, so the History and
// Diff pages switch to newer library calls by changing this file only.
import type { StateManager } from "../state_manager.ts";
import type { CheckpointInfo, Head, JsonValue } from "../types.ts";
import { ancestors, treeRows } from "../core/_lineage.ts";

/** Most keys a diff lists with values per kind; the page says how many more there are. */
export const DIFF_LIMIT = 500;

/** One checkpoint as the History page shows it. */
export interface HistoryRow extends CheckpointInfo {
  /**
   * Column for drawing: the head's line (or, off it, the oldest child's)
   * stays in its parent's column; every other child branches one further.
   */
  depth: number;
  /** Whether it is the head or one of its ancestors. */
  onHeadPath: boolean;
  /** Whether it lies off the head's line (after a restore): an abandoned branch. */
  abandoned: boolean;
}

/** What the History page gets. */
export interface History {
  /** The checkpoint last taken or restored, or null. */
  head: Head | null;
  /** Rows in tree order: each parent before its children, children oldest first. */
  rows: HistoryRow[];
  /** Keys added, removed and changed since the head's checkpoint (counts). */
  changes: { added: number; removed: number; changed: number };
  /** Whether the newest checkpoint lies off the head's line. */
  abandoned: boolean;
}

/** The namespace's checkpoints as a tree (the library's lineage), with the head. */
export async function readHistory(state: StateManager): Promise<History> {
  const [list, status] = await Promise.all([state.listCheckpoints(), state.status()]);
  const { head } = status;
  const onPath = new Set(head ? ancestors(list, head.name) : []);
  const tree = treeRows(list, head);
  // Per parent, the child that keeps its column: the one on the head's line, else the first.
  const mainChild = new Map<string, string>();
  for (const { info: c } of tree) {
    if (c.parent === null) continue;
    if (!mainChild.has(c.parent) || onPath.has(c.name)) mainChild.set(c.parent, c.name);
  }
  const column = new Map<string, number>();
  const rows: HistoryRow[] = tree.map(({ info: c }) => {
    const parent = c.parent !== null && column.has(c.parent) ? c.parent : null;
    const depth = parent === null
      ? 0
      : column.get(parent)! + (mainChild.get(parent) === c.name ? 0 : 1);
    column.set(c.name, depth);
    return {
      ...c,
      depth,
      onHeadPath: onPath.has(c.name),
      abandoned: head !== null && !onPath.has(c.name),
    };
  });
  const { added, removed, changed } = status.changes;
  return {
    head,
    rows,
    changes: { added: added.length, removed: removed.length, changed: changed.length },
    abandoned: status.abandoned,
  };
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
  // The library's value diff (one read of each side); the page shows the first DIFF_LIMIT of each kind.
  const d = await state.diffCheckpointValues(from, to ?? undefined);
  const take = <T>(rows: Record<string, T>) => Object.entries(rows).slice(0, DIFF_LIMIT);
  return {
    from,
    to,
    added: take(d.added).map(([key, value]) => ({ key, new: value })),
    removed: take(d.removed).map(([key, value]) => ({ key, old: value })),
    changed: take(d.changed).map(([key, c]) => ({ key, old: c.from, new: c.to })),
    counts: {
      added: Object.keys(d.added).length,
      removed: Object.keys(d.removed).length,
      changed: Object.keys(d.changed).length,
    },
  };
}
