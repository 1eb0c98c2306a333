// Small helpers that several backends share.
import { compareKeys } from "../core/_keys.ts";
import { byteLength } from "../core/_validate.ts";
import type { CheckpointInfo, JsonValue } from "../types.ts";

/** Size of an entry as the contract counts it: key plus value, UTF-8. */
export function entryBytes(entry: { key: string; value: string }): number {
  return byteLength(entry.key) + byteLength(entry.value);
}

/** Sorts checkpoint infos newest first, then by name descending. */
export function newestFirst(a: CheckpointInfo, b: CheckpointInfo): number {
  return b.createdAt - a.createdAt || compareKeys(b.name, a.name);
}

/**
 * A checkpoint's info with its key count and bytes counted from `entries`:
 * the one place every backend computes them.
 */
export function checkpointInfo(
  base: {
    name: string;
    createdAt: number;
    auto: boolean;
    metadata: Record<string, JsonValue>;
    parent?: string | null;
  },
  entries: { key: string; value: string }[],
): CheckpointInfo {
  return {
    name: base.name,
    createdAt: base.createdAt,
    keyCount: entries.length,
    bytes: entries.reduce((n, e) => n + entryBytes(e), 0),
    auto: base.auto,
    metadata: structuredClone(base.metadata),
    parent: base.parent ?? null,
  };
}

/** Whether `key` is kept by a restore's `keep` option (under one of its prefixes). */
export function kept(key: string, keep: { prefixes: string[] } | undefined): boolean {
  return keep !== undefined && keep.prefixes.some((prefix) => key.startsWith(prefix));
}
