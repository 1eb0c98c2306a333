// The bodies of StateManager's methods that are more than one call: batch
// reads, listings, clear, recover and the watcher registry. StateManager
// keeps the public signatures and their docs.
import { ValidationError } from "../errors.ts";
import type { Entry } from "../options.ts";
import type {
  Backend,
  CheckpointInfo,
  Head,
  JsonValue,
  KeyPage,
  ListOptions,
  RecoveryReport,
} from "../types.ts";
import type { Engine } from "./_engine.ts";
import { newVersion } from "./_ids.ts";
import { validateKey } from "./_validate.ts";
import { validateListOptions } from "./_validate_options.ts";
import { KeyWatcher, type Watcher, type WatchOptions, type WatchTarget } from "./_watch.ts";

/** Runs one backend call of the namespace as a tracked, retried operation. */
export function run<T>(
  engine: Engine,
  fn: (backend: Backend, ns: string) => Promise<T>,
): Promise<T> {
  return engine.op(() => engine.call(() => fn(engine.backend, engine.namespace)));
}

/** Several keys with their versions, in one read of the backend; a missing key is null. */
export async function getEntries<T>(
  engine: Engine,
  keys: string[],
  method: string,
): Promise<(Entry<T> | null)[]> {
  if (!Array.isArray(keys)) throw new ValidationError(`${method}() takes an array of keys`);
  keys.forEach((key) => validateKey(key));
  const entries = await run(engine, (b, ns) => b.get(ns, keys));
  return entries.map((e) => e && { ...e, value: JSON.parse(e.value) as T });
}

/** Several keys' values; missing keys are left out. */
export async function loadMany(engine: Engine, keys: string[]): Promise<Record<string, JsonValue>> {
  const out: Record<string, JsonValue> = {};
  for (const e of await getEntries<JsonValue>(engine, keys, "loadMany")) {
    if (e) out[e.key] = e.value;
  }
  return out;
}

/** One page of keys. */
export function listKeys(engine: Engine, options: ListOptions): Promise<KeyPage> {
  validateListOptions(options);
  return run(engine, (b, ns) => b.list(ns, options));
}

/** Checkpoints, newest first. */
export function listCheckpoints(engine: Engine): Promise<CheckpointInfo[]> {
  return run(engine, (b, ns) => b.listCheckpoints(ns));
}

/** The namespace's head. */
export function head(engine: Engine): Promise<Head | null> {
  return run(engine, (b, ns) => b.head(ns));
}

/** Namespaces of the backend. */
export function namespaces(engine: Engine): Promise<string[]> {
  return run(engine, (b) => b.namespaces());
}

/** Deletes every key and checkpoint of the namespace (one request id for every retry). */
export async function clear(engine: Engine): Promise<void> {
  const id = newVersion();
  await engine.op(() =>
    engine.uncached(() => engine.call(() => engine.backend.clear(engine.namespace, { id })))
  );
}

/** Runs the backend's repair, if it has one. */
export async function recover(engine: Engine): Promise<RecoveryReport> {
  const recover = engine.backend.recover?.bind(engine.backend);
  if (!recover) return { actions: [], quarantined: [], ok: true };
  return await engine.op(() => engine.uncached(() => engine.call(() => recover(engine.namespace))));
}

/** A manager's open watchers: `close()` ends them. */
export class Watchers {
  readonly #open = new Set<KeyWatcher<unknown>>();

  /** Starts a watcher on the engine's namespace. */
  start<T>(engine: Engine, target: WatchTarget, options: WatchOptions): Watcher<T> {
    engine.assertOpen();
    const watcher = new KeyWatcher<T>(
      {
        backend: engine.backend,
        namespace: engine.namespace,
        call: (fn) => engine.call(fn),
        onClose: (w) => this.#open.delete(w),
      },
      target,
      options,
    );
    this.#open.add(watcher as KeyWatcher<unknown>);
    return watcher;
  }

  /** Closes every open watcher. */
  async close(): Promise<void> {
    await Promise.all([...this.#open].map((w) => w.close()));
  }
}
