// Stores for the migration, export and legacy tests: one factory per backend,
// each giving a fresh, empty store. A new backend joins every pair test by
// adding a factory here.
import { join } from "node:path";
import { type Endpoint, MemoryBackend, type NamedBackendOptions, StateManager } from "../mod.ts";

import { compareKeys } from "../core/_keys.ts";
import type { Backend } from "../types.ts";
import { deletePrefix, type RedisTarget, redisTarget } from "./_redis_server.ts";
import { dropSchema, newSchema, type PgTarget, pgTarget } from "./_pg_server.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** A fresh store: where it is, a way to open a manager on it, and a cleanup. */
export interface Store {
  /** What migrate(), exportState() and importState() take. */
  endpoint: Endpoint;
  /** Opens a manager on one namespace of the store (close it). */
  open(namespace: string): Promise<StateManager>;
  /** Removes the store. */
  cleanup(): Promise<void>;
}

function objectStore(backend: Backend): Store {
  return {
    endpoint: backend,
    open: (namespace) => StateManager.open({ backend, namespace }),
    cleanup: () => backend.close(),
  };
}

function locationStore(endpoint: NamedBackendOptions, cleanup: () => Promise<void>) {
  return {
    endpoint,
    open: (namespace: string) => StateManager.open({ ...endpoint, namespace, cache: false }),
    cleanup,
  } satisfies Store;
}

/** Starts (or finds) a Redis server for the stores; a string says why there is none. */
export const redis: RedisTarget | string = await redisTarget();

/** Every store kind, by name. */
export const STORES: Record<string, () => Store> = {
  memory: () => objectStore(new MemoryBackend()),
  json: () => {
    const dir = tempDir();
    return locationStore({ backend: "json", dir }, () => Promise.resolve(removeDir(dir)));
  },
  sqlite: () => {
    const dir = tempDir();
    return locationStore(
      { backend: "sqlite", path: join(dir, "s.db") },
      () => Promise.resolve(removeDir(dir)),
    );
  },
  kv: () => {
    const dir = tempDir();
    return locationStore(
      { backend: "kv", path: join(dir, "s.kv") },
      () => Promise.resolve(removeDir(dir)),
    );
  },
};
if (typeof redis === "object") {
  const { url } = redis;
  STORES.redis = () => {
    const prefix = `msm-${crypto.randomUUID().slice(0, 8)}`;
    return locationStore({ backend: "redis", url, prefix }, () => deletePrefix(url, prefix));
  };
}

/** Starts (or finds) a PostgreSQL server for the stores; a string says why there is none. */
export const postgres: PgTarget | string = await pgTarget();
if (typeof postgres === "object") {
  const { url } = postgres;
  STORES.postgres = () => {
    const schema = newSchema();
    return locationStore({ backend: "postgres", url, schema }, () => dropSchema(url, schema));
  };
}

/** The store kinds that could not run, and why: the suites that use them report a failure. */
export const MISSING: Record<string, string> = {
  ...(typeof postgres === "string" ? { postgres } : {}),
};

/** Stops the Redis and PostgreSQL servers the stores started, if any. */
export async function stopRedis(): Promise<void> {
  if (typeof redis === "object") await redis.server?.stop();
  if (typeof postgres === "object") await postgres.server?.stop();
}

/** Runs `fn` with fresh stores of the given kinds and cleans them up. */
export async function withStores(
  kinds: string[],
  fn: (...stores: Store[]) => Promise<void>,
): Promise<void> {
  const stores = kinds.map((k) => STORES[k]!());
  try {
    await fn(...stores);
  } finally {
    for (const s of stores) await s.cleanup();
  }
}

/** Two namespaces with keys, a TTL, and checkpoints with metadata (5 keys, 2 checkpoints). */
export async function populate(store: Store): Promise<void> {
  const a = await store.open("wf-a");
  await a.saveMany({ phase: "plan", tasks: ["scout", "plan"], "ü-key": { n: 1 }, zero: 0 });
  await a.save("lease", "worker-1", { ttlMs: 600_000 });
  await a.checkpoint("after_planning", { metadata: { phase: "plan", run: 7 } });
  await a.save("phase", "build");
  await a.delete("zero");
  await a.checkpoint();
  await a.close();
  const b = await store.open("wf-b");
  await b.save("only", "");
  await b.close();
}

/** Everything observable about a namespace through the public API, for comparing stores. */
export async function snapshot(store: Store, namespace: string) {
  const s = await store.open(namespace);
  try {
    const keys = (await s.listKeys()).keys;
    const entries = [];
    for (const key of keys) {
      const e = (await s.getEntry(key))!;
      entries.push({ key, value: e.value, expiresAt: e.expiresAt });
    }
    const checkpoints = [];
    for (const c of await s.listCheckpoints()) {
      const { name, createdAt, auto, metadata, keyCount, bytes } = c;
      const content = ((await s.backend.readCheckpoint(namespace, name)) ?? [])
        .map((e) => ({ key: e.key, value: e.value, expiresAt: e.expiresAt }))
        .sort((x, y) => compareKeys(x.key, y.key));
      checkpoints.push({ name, createdAt, auto, metadata, keyCount, bytes, content });
    }
    return { entries, checkpoints };
  } finally {
    await s.close();
  }
}
