// Writing a checkpoint into a backend that has no `importCheckpoint`: the
// namespace is saved in a hold checkpoint, made the checkpoint's content in
// one commit, checkpointed under the wanted name, and restored from the hold.
// A run killed in the middle leaves the hold behind; the next run finds it
// and finishes the restore before it copies anything.
import { newVersion } from "../core/_ids.ts";
import { keyPages } from "./_source.ts";
import { ConflictError } from "../errors.ts";
import type { Backend, CheckpointInfo, StoredEntry } from "../types.ts";

/** Checkpoint names starting with this are a migration's holds; do not use it for your own. */
export const HOLD_PREFIX = "migrate-hold-";

/** Writes a checkpoint through a hold checkpoint and a temporary restore. */
export async function importByRestore(
  target: Backend,
  ns: string,
  info: CheckpointInfo,
  entries: StoredEntry[],
): Promise<void> {
  const version = newVersion();
  const hold = HOLD_PREFIX + version;
  await target.checkpoint(ns, {
    name: hold,
    createdAt: Date.now(),
    auto: false,
    // What the next run needs to tell how far this one got.
    metadata: { migrateHold: true, version, importing: info.name, keys: entries.length },
    overwrite: true,
  });
  try {
    const current: string[] = [];
    for await (const keys of keyPages(target, ns)) current.push(...keys);
    const wanted = new Set(entries.map((e) => e.key));
    await target.commit(ns, {
      version,
      checks: [],
      sets: entries.map((e) => ({ key: e.key, value: e.value, expiresAt: e.expiresAt })),
      deletes: current.filter((k) => !wanted.has(k)),
    });
    await target.checkpoint(ns, {
      name: info.name,
      createdAt: info.createdAt,
      auto: info.auto,
      metadata: info.metadata,
      overwrite: true,
    });
  } finally {
    await target.restore(ns, hold);
  }
  await target.deleteCheckpoint(ns, hold);
}

/**
 * Finishes what a killed {@linkcode importByRestore} left in `ns`: restores
 * the hold if the namespace still holds the checkpoint's content, and deletes
 * the hold. Returns the names of the holds it cleared. Throws ConflictError
 * when the namespace was changed since, so it cannot tell which is right.
 */
export async function recoverHolds(target: Backend, ns: string): Promise<string[]> {
  const holds = (await target.listCheckpoints(ns)).filter((c) =>
    c.name.startsWith(HOLD_PREFIX) && c.metadata.migrateHold === true
  );
  for (const hold of holds) {
    const live = new Map<string, string>();
    for await (const keys of keyPages(target, ns)) {
      for (const e of await target.get(ns, keys)) if (e) live.set(e.key, e.version);
    }
    const now = Date.now();
    const held = ((await target.readCheckpoint(ns, hold.name)) ?? [])
      .filter((e) => e.expiresAt === null || e.expiresAt > now);
    const version = hold.metadata.version;
    const dance = [...live.values()].filter((v) => v === version).length;
    const sameAsHold = held.length === live.size &&
      held.every((e) => live.get(e.key) === e.version);
    if (!sameAsHold) {
      // The one commit of the dance landed and nothing else wrote since: put the namespace back.
      if (dance !== live.size || live.size > Number(hold.metadata.keys)) {
        throw new ConflictError(
          `Namespace ${JSON.stringify(ns)} in ${target.name} holds checkpoint ${
            JSON.stringify(hold.name)
          }, left by an interrupted migration, and was changed since: restore that checkpoint ` +
            `if the namespace should be as it was before the migration, then delete it, and run again`,
        );
      }
      await target.restore(ns, hold.name);
    }
    await target.deleteCheckpoint(ns, hold.name);
  }
  return holds.map((h) => h.name);
}
