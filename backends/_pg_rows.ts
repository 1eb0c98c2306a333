// Rows and parameters of the PostgreSQL backend: what its statements return,
// turned into the contract's shapes, and what a commit sends.
import { byteLength } from "../core/_validate.ts";
import type { CheckpointInfo, CommitOp, JsonValue, StoredEntry } from "../types.ts";

/** A NOTIFY payload is capped at 8000 bytes; longer key lists become "anything changed". */
export const MAX_HINT_BYTES = 7000;

/** A row as node-postgres returns it. */
export type Row = Record<string, unknown>;

/** A `checkpoints` row as the contract's info. */
export function toInfo(row: Row): CheckpointInfo {
  return {
    name: row.name as string,
    createdAt: Number(row.created_at),
    keyCount: Number(row.key_count),
    bytes: Number(row.bytes),
    auto: row.auto === true,
    metadata: JSON.parse(row.metadata as string) as Record<string, JsonValue>,
    parent: (row.parent as string | null) ?? null,
  };
}

/** The SQLSTATE of the driver error under a mapped error. */
export function sqlState(error: unknown): unknown {
  return (error as { cause?: { code?: unknown } } | null)?.cause?.code;
}

/** FNV-1a of `text`, as 8 hex digits. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** An `entries` (or `checkpoint_entries`) row of `key` as a stored entry. */
export function toEntry(key: string, row: Row): StoredEntry {
  return {
    key,
    value: row.value as string,
    version: row.version as string,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  };
}

/**
 * The statement and parameters of a commit: the common save (one key, no check) as the plain
 * `save` statement, an update() step (one key, one check) by `ms_commit1`, the rest by
 * `ms_commit`. Each sends a hint of the changed keys for NOTIFY when it fits.
 */
export function commitStatement(
  ns: string,
  op: CommitOp,
  now: number,
): { name: "save" | "commit" | "commit1"; values: unknown[] } {
  const only = op.sets.length === 1 && op.checks.length <= 1 && op.deletes.length === 0
    ? op.sets[0]!
    : undefined;
  if (only) {
    const hint = JSON.stringify([only.key]);
    const short = hint.length * 3 + ns.length < MAX_HINT_BYTES ? hint : null;
    const check = op.checks[0];
    if (!check) {
      return {
        name: "save",
        values: [ns, only.key, only.value, op.version, only.expiresAt, short, op.id, now],
      };
    }
    return {
      name: "commit1",
      values: [
        ns,
        op.id,
        op.version,
        now,
        check.key,
        check.version,
        only.key,
        only.value,
        only.expiresAt,
        short,
      ],
    };
  }
  // Last write of a key wins, as on every backend (one row cannot be upserted twice).
  const sets = new Map(op.sets.map((s) => [s.key, s]));
  const hint = JSON.stringify([...new Set([...op.deletes, ...sets.keys()])]);
  return {
    name: "commit",
    values: [
      ns,
      op.id,
      op.version,
      now,
      op.checks.map((c) => c.key),
      op.checks.map((c) => c.version),
      [...sets.keys()],
      [...sets.values()].map((s) => s.value),
      [...sets.values()].map((s) => s.expiresAt),
      op.deletes,
      byteLength(hint) + ns.length < MAX_HINT_BYTES ? hint : null,
    ],
  };
}
