// The LangGraph saver's key layout inside its namespace (one namespace of
// ours holds every thread; references/langgraph.md documents it):
//
//   t/<thread>                                 thread record: latest checkpoint per
//                                              checkpoint namespace, last write time
//   c/<thread>/<ns>/<checkpoint>               checkpoint (without channel values)
//                                              and metadata, parent id
//   b/<thread>/<ns>/<channel>/<version>        a channel value, stored once per version
//                                              (whole, or as a delta of an older version)
//   w/<thread>/<ns>/<checkpoint>/<task>/<idx>  a pending write
//
// Every part is escaped so "/" separates parts only: "%", "/", NUL and lone
// surrogates become %XX (or %uXXXX), so any LangGraph id makes a valid key.
import type { Typed } from "./_langgraph_codec.ts";

const SPECIAL = /[%/\0]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** One key part, escaped. */
export function esc(part: string): string {
  return part.replace(SPECIAL, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `%u${code.toString(16).toUpperCase()}` : `%${hex2(code)}`;
  });
}

/** The inverse of {@linkcode esc}. */
export function unesc(part: string): string {
  return part.replace(
    /%u([0-9A-F]{4})|%([0-9A-F]{2})/g,
    (_m, u: string | undefined, b: string | undefined) =>
      String.fromCharCode(parseInt(u ?? b ?? "0", 16)),
  );
}

function hex2(code: number): string {
  return code.toString(16).toUpperCase().padStart(2, "0");
}

/** The thread record's key. */
export function threadKey(thread: string): string {
  return `t/${esc(thread)}`;
}

/** The prefix of every key of a kind ("c", "b", "w") of a thread (and checkpoint namespace). */
export function prefix(kind: string, thread?: string, ns?: string): string {
  if (thread === undefined) return `${kind}/`;
  return ns === undefined ? `${kind}/${esc(thread)}/` : `${kind}/${esc(thread)}/${esc(ns)}/`;
}

/** A checkpoint's key. */
export function checkpointKey(thread: string, ns: string, id: string): string {
  return `c/${esc(thread)}/${esc(ns)}/${esc(id)}`;
}

/** A channel value's key. */
export function blobKey(thread: string, ns: string, channel: string, version: string): string {
  return `b/${esc(thread)}/${esc(ns)}/${esc(channel)}/${esc(version)}`;
}

/** The prefix of a checkpoint's pending writes. */
export function writesPrefix(thread: string, ns: string, id: string): string {
  return `w/${esc(thread)}/${esc(ns)}/${esc(id)}/`;
}

/** A pending write's key. */
export function writeKey(
  thread: string,
  ns: string,
  id: string,
  task: string,
  idx: number,
): string {
  return `${writesPrefix(thread, ns, id)}${esc(task)}/${idx}`;
}

/** The unescaped parts after the kind of a key, e.g. [thread, ns, id] of a "c/" key. */
export function parts(key: string): string[] {
  return key.split("/").slice(1).map(unesc);
}

/** The thread record (`t/<thread>`). */
export interface ThreadRecord {
  /** Last put, ms since the epoch (the thread TTL counts from it). */
  at: number;
  /** The newest checkpoint id of each checkpoint namespace. */
  latest: Record<string, string>;
  /** Checkpoints pruned per namespace since unreferenced values were last swept. */
  pruned?: Record<string, number>;
}

/** A checkpoint record (`c/<thread>/<ns>/<id>`). */
export interface CheckpointRecord {
  /** The parent checkpoint id, or null. */
  p: string | null;
  /** When it was put, ms since the epoch. */
  at: number;
  /** `{ checkpoint, metadata }` (the checkpoint without its channel values), through the serde. */
  c: Typed;
}

/** A pending write record (`w/<thread>/<ns>/<id>/<task>/<idx>`). */
export type WriteRecord = Typed & { task: string; idx: number; ch: string; path: string };
