// Small helpers that several backends share.
import { compareKeys } from "../core/_keys.ts";
import { byteLength } from "../core/_validate.ts";
import type { CheckpointInfo } from "../types.ts";

/** Size of an entry as the contract counts it: key plus value, UTF-8. */
export function entryBytes(entry: { key: string; value: string }): number {
  return byteLength(entry.key) + byteLength(entry.value);
}

/** Sorts checkpoint infos newest first, then by name descending. */
export function newestFirst(a: CheckpointInfo, b: CheckpointInfo): number {
  return b.createdAt - a.createdAt || compareKeys(b.name, a.name);
}
