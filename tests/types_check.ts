// Type-level tests: what the compiler must accept and what it must refuse.
// Nothing here runs; `deno task check` type-checks it (an unused
// `@ts-expect-error` is an error too, so a refusal that stops happening
// fails), and the npm smoke test compiles it with tsc against the packed
// package, with "../mod.ts" read as "@adw/managing-state".
import {
  BACKEND_NAMES,
  type BackendName,
  type Endpoint,
  MemoryBackend,
  type OpenOptions,
  StateManager,
  type UpdateResult,
} from "../mod.ts";

// ------------------------------------------------------------ open() options

/** Options every backend accepts. */
export const accepted: OpenOptions[] = [
  {},
  { namespace: "wf-1", cache: false, retry: false, recover: true },
  { dir: ".state" }, // no backend: the JSON backend
  { backend: "memory" },
  { backend: "json", dir: ".state", keepCheckpoints: 5 },
  { backend: "sqlite", path: "state.db" },
  { backend: "sqlite", dir: ".state" },
  { backend: "redis", url: "redis://localhost:6379", prefix: "ms", cluster: true },
  { backend: "redis", redisOptions: { sentinels: [{ host: "h", port: 1 }], name: "m" } },
  { backend: "kv", path: ":memory:" },
  { backend: "kv", url: "https://kv.example/db", dir: ".state" },
  { backend: "postgres", url: "postgres://localhost/test", schema: "ms" },
  { backend: new MemoryBackend(), namespace: "wf-1", cache: { maxStaleMs: 10 } },
];

/** The names, exactly: a backend added to BACKEND_NAMES must be added here. */
export const names: Record<BackendName, true> = {
  memory: true,
  json: true,
  sqlite: true,
  redis: true,
  kv: true,
  postgres: true,
};
export const first: BackendName = BACKEND_NAMES[0];

/** Options the compiler refuses. */
export const refused: OpenOptions[] = [
  // @ts-expect-error a misspelt backend name
  { backend: "sqllite" },
  // @ts-expect-error url belongs to redis and kv, not json
  { backend: "json", url: "redis://localhost:6379" },
  // @ts-expect-error without backend it is the JSON backend: no url
  { url: "redis://localhost:6379" },
  // @ts-expect-error path belongs to sqlite and kv, not json
  { backend: "json", path: "state.db" },
  // @ts-expect-error the memory backend takes no location
  { backend: "memory", dir: ".state" },
  // @ts-expect-error path belongs to sqlite and kv, not redis
  { backend: "redis", path: "state.db" },
  // @ts-expect-error the postgres backend keeps no files: no dir
  { backend: "postgres", dir: ".state" },
  // @ts-expect-error schema belongs to postgres
  { backend: "sqlite", schema: "s" },
  // @ts-expect-error prefix belongs to redis
  { backend: "sqlite", prefix: "ms" },
  // @ts-expect-error database belongs to sqlite
  { backend: "kv", database: {} },
  // @ts-expect-error a backend object is open already: no location
  { backend: new MemoryBackend(), dir: ".state" },
  // @ts-expect-error cluster is a boolean
  { backend: "redis", cluster: "yes" },
  // @ts-expect-error namespace is a string
  { namespace: 42 },
  // @ts-expect-error not an option at all
  { backend: "memory", ttl: 5 },
];

// ------------------------------------------------- migrate() and export ends

/** Ends migrate(), exportState() and importState() accept. */
export const ends: Endpoint[] = [
  new MemoryBackend(),
  { backend: "sqlite", path: "state.db" },
  { backend: "redis", url: "redis://localhost:6379" },
  { backend: "legacy-json", dir: ".claude/state" },
  { backend: "legacy-redis", url: "redis://localhost:6379", keepTtl: true },
];

/** Ends the compiler refuses. */
export const refusedEnds: Endpoint[] = [
  // @ts-expect-error a misspelt backend name
  { backend: "sqllite", path: "state.db" },
  // @ts-expect-error url belongs to redis and kv, not json
  { backend: "json", url: "redis://localhost:6379" },
  // @ts-expect-error keepTtl belongs to the legacy-redis source
  { backend: "redis", url: "redis://localhost:6379", keepTtl: true },
  // @ts-expect-error a migration end names its backend (no JSON default)
  { dir: ".claude/state" },
];

// ---------------------------------------------------------------- the methods

/** Calls checked by the compiler; never run. */
export async function methods(state: StateManager): Promise<void> {
  // @ts-expect-error open() takes the same options
  await StateManager.open({ backend: "sqllite" });
  // @ts-expect-error the option is ttlMs
  await state.save("k", 1, { ttl: 5 });
  // @ts-expect-error ifVersion is a version string (from getEntry)
  await state.save("k", 1, { ifVersion: 3 });
  // @ts-expect-error saveMany takes ifAbsent, not ifVersion
  await state.saveMany({ k: 1 }, { ifVersion: "v" });
  // @ts-expect-error delete takes ifVersion, not ifAbsent
  await state.delete("k", { ifAbsent: true });
  // @ts-expect-error overwrite is a boolean
  await state.checkpoint("cp", { overwrite: "yes" });
  // @ts-expect-error keep is { prefix }
  await state.restoreCheckpoint("cp", { keep: "attempts:" });
  // @ts-expect-error increment adds a number
  await state.increment("n", "1");
  // @ts-expect-error claim needs an owner
  await state.claim("task:1");

  const n: number = await state.update<number>("n", (v = 0) => v + 1);
  const r: UpdateResult<number> = await state.update<number>("n", (v = 0) => v + 1, {
    previous: true,
  });
  const previous: number | undefined = r.previous;
  // @ts-expect-error update() without previous resolves to the value, not a result
  const wrong: UpdateResult<number> = await state.update<number>("n", (v = 0) => v + 1);
  const loaded: string | null = await state.load<string, null>("phase", null);
  const entry = await state.getEntry<string>("phase");
  const version: string | undefined = entry?.version;
  const total: number = await state.increment("n");
  console.log(n, previous, wrong, loaded, version, total);
}
