// One soak client: mixed operations against one backend for a fixed time,
// timing each, counting errors, and sampling its own memory. Run as a child
// process by scripts/soak.ts (one JSON argument, one JSON line of results),
// or in-process for the memory backend through `runClient()`.
import process from "node:process";
import { type Backend, type OpenOptions, StateManager } from "../../mod.ts";

/** What a client is told. */
export interface ClientOptions {
  /** Backend name, or (in-process) a backend object. */
  backend: string | Backend;
  /** Where its data is: dir, path, url. */
  location: Record<string, string>;
  /** Client number (names its own namespace). */
  id: number;
  /** How long to run. */
  seconds: number;
}

/** Latencies in buckets of 2% width: bucket b holds [1.02^b, 1.02^(b+1)) microseconds. */
export type Histogram = Record<number, number>;

/** What a client reports. */
export interface ClientResult {
  /** Per operation: how many succeeded, their latencies, and errors. */
  ops: Record<string, { done: number; histogram: Histogram; errors: number }>;
  /** The first few error messages. */
  errorSamples: string[];
  /** Increments of the shared counter that were acknowledged. */
  increments: number;
  /** Memory after warm-up and at the end (after a GC when the runtime allows it), in bytes. */
  memory: { rssStart: number; rssEnd: number; heapStart: number; heapEnd: number };
}

/** The shared namespace every client reads and writes; 1,000 keys of ~200 bytes. */
export const SHARED = "soak";
/** Keys in the shared namespace. */
export const SHARED_KEYS = 1000;

/** A value of about 200 bytes. */
export function valueOf(i: number): unknown {
  return { i, phase: "build", tasks: ["scout", "plan", "build"], note: "x".repeat(140) };
}

/** Operations and their weights. */
const MIX: [string, number][] = [
  ["load", 40],
  ["loadMany", 7],
  ["save", 25],
  ["update", 10],
  ["atomic", 5],
  ["listKeys", 5],
  ["checkpoint", 5],
  ["restore", 3],
];
const TOTAL = MIX.reduce((n, [, w]) => n + w, 0);

function pick(): string {
  let r = Math.random() * TOTAL;
  for (const [op, w] of MIX) if ((r -= w) < 0) return op;
  return "load";
}

const LOG_STEP = Math.log(1.02);

function memory(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** Runs one client; resolves with its results. */
export async function runClient(options: ClientOptions): Promise<ClientResult> {
  const open = (namespace: string) =>
    typeof options.backend === "string"
      // The name comes from the parent process; open() checks it at run time.
      ? StateManager.open(
        { ...options.location, backend: options.backend, namespace } as OpenOptions,
      )
      : StateManager.open({ backend: options.backend, namespace });
  const shared = await open(SHARED);
  const own = await open(`soak-${options.id}`);
  await own.saveMany(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])));
  await own.checkpoint("cp-0", { overwrite: true });
  const result: ClientResult = {
    ops: {},
    errorSamples: [],
    increments: 0,
    memory: { rssStart: 0, rssEnd: 0, heapStart: 0, heapEnd: 0 },
  };
  const key = () => `key-${Math.floor(Math.random() * SHARED_KEYS)}`;
  const run: Record<string, () => Promise<unknown>> = {
    load: () => shared.load(key(), null),
    loadMany: () => shared.loadMany([key(), key(), key(), key(), key()]),
    save: () => shared.save(key(), valueOf(Math.random())),
    update: async () => {
      await shared.update<number>("counter", (n = 0) => n + 1);
      result.increments++;
    },
    atomic: () => shared.atomic().set(key(), 1).set(key(), 2).delete(`gone-${options.id}`).commit(),
    listKeys: () => shared.listKeys({ prefix: "key-1", limit: 50 }),
    checkpoint: () => own.checkpoint(`cp-${Math.floor(Math.random() * 3)}`, { overwrite: true }),
    restore: () => own.restoreCheckpoint("cp-0"),
  };
  const start = performance.now();
  const end = start + options.seconds * 1000;
  let sampled = false;
  while (performance.now() < end) {
    if (!sampled && performance.now() > start + options.seconds * 100) {
      const m = memory(); // after warm-up: a tenth of the run
      result.memory.rssStart = m.rss;
      result.memory.heapStart = m.heap;
      sampled = true;
    }
    const op = pick();
    const stats = result.ops[op] ??= { done: 0, histogram: {}, errors: 0 };
    const t = performance.now();
    try {
      await run[op]!();
      const us = Math.max(1, (performance.now() - t) * 1000);
      const b = Math.floor(Math.log(us) / LOG_STEP);
      stats.histogram[b] = (stats.histogram[b] ?? 0) + 1;
      stats.done++;
    } catch (error) {
      stats.errors++;
      if (result.errorSamples.length < 5) {
        result.errorSamples.push(`${op}: ${(error as Error).message}`);
      }
    }
  }
  const m = memory();
  result.memory.rssEnd = m.rss;
  result.memory.heapEnd = m.heap;
  await own.close();
  await shared.close();
  return result;
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2]!) as ClientOptions;
  console.log(JSON.stringify(await runClient(options)));
}
