// Lineage of checkpoints, from their `parent` links and the namespace's head:
// pure functions the manager's status(), the CLI and the UI share.
import { compareKeys } from "./_keys.ts";
import type { CheckpointInfo, Head } from "../types.ts";

/** Checkpoint names from `name` back to the root, `name` first; stops at a missing parent or a loop. */
export function ancestors(infos: CheckpointInfo[], name: string): string[] {
  const byName = new Map(infos.map((c) => [c.name, c]));
  const out: string[] = [];
  const seen = new Set<string>();
  for (let at: string | null = name; at !== null && !seen.has(at);) {
    seen.add(at);
    out.push(at);
    at = byName.get(at)?.parent ?? null;
  }
  return out;
}

/** Whether checkpoint `ancestor` is `name` or one of its ancestors. */
export function isAncestor(infos: CheckpointInfo[], ancestor: string, name: string): boolean {
  return ancestors(infos, name).includes(ancestor);
}

/** One row of a lineage tree: a checkpoint, its depth, and whether it is the head. */
export interface TreeRow {
  /** The checkpoint. */
  info: CheckpointInfo;
  /** 0 for a root (no parent, or a parent that no longer exists), +1 per generation. */
  depth: number;
  /** Whether the namespace's head is this checkpoint. */
  head: boolean;
}

/**
 * The checkpoints as a tree, depth first: roots oldest first, and under each
 * checkpoint its children oldest first (a restore followed by new checkpoints
 * makes a second child: a branch).
 */
export function treeRows(infos: CheckpointInfo[], head: Head | null): TreeRow[] {
  const names = new Set(infos.map((c) => c.name));
  const oldestFirst = [...infos].sort((a, b) =>
    a.createdAt - b.createdAt || compareKeys(a.name, b.name)
  );
  const children = new Map<string | null, CheckpointInfo[]>();
  for (const c of oldestFirst) {
    const parent = c.parent !== null && names.has(c.parent) && c.parent !== c.name
      ? c.parent
      : null;
    children.set(parent, [...children.get(parent) ?? [], c]);
  }
  const rows: TreeRow[] = [];
  const seen = new Set<string>();
  const visit = (c: CheckpointInfo, depth: number) => {
    if (seen.has(c.name)) return; // a loop of parents (hand-made data): shown once
    seen.add(c.name);
    rows.push({ info: c, depth, head: head?.name === c.name });
    for (const child of children.get(c.name) ?? []) visit(child, depth + 1);
  };
  for (const root of children.get(null) ?? []) visit(root, 0);
  // Checkpoints only reachable through a loop of parents: shown as roots.
  for (const c of oldestFirst) visit(c, 0);
  return rows;
}

/** Whether the newest checkpoint lies off the head's line: a branch was abandoned. */
export function abandoned(infos: CheckpointInfo[], head: Head | null): boolean {
  const newest = newestOf(infos);
  if (newest === null || head === null) return false;
  return !isAncestor(infos, newest.name, head.name);
}

/** The newest checkpoint (latest createdAt, then greatest name), or null. */
export function newestOf(infos: CheckpointInfo[]): CheckpointInfo | null {
  let best: CheckpointInfo | null = null;
  for (const c of infos) {
    if (
      !best || c.createdAt > best.createdAt ||
      (c.createdAt === best.createdAt && compareKeys(c.name, best.name) > 0)
    ) {
      best = c;
    }
  }
  return best;
}
