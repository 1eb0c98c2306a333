// Child process of the fault-proxy test: runs `ops` mixed operations against
// Redis or PostgreSQL through its own FaultProxy, arming a fault before about
// one operation in `faultEvery`, and prints one JSON line: what was
// acknowledged, what failed (with a known or unknown outcome), and every
// broken promise it saw itself (an increment applied twice or reported failed
// although it landed, an untyped error, a hang).
//
// Shared namespace "faults": saves `k/<p>/<i>`, atomic three-key writes
// `m/<p>/<i>/{a,b,c}`, and update() of "count" = { n, by: { <p>: n } } (only
// this process changes by[p], so it can tell whether a failed increment
// landed). Own namespace "faults-<p>" (this process alone writes it): the key
// "gen", and checkpoints, restores and deletes of checkpoints of it.
import process from "node:process";
import { BackendError, CheckpointNotFoundError, StateError, StateManager } from "../mod.ts";
import type { Backend } from "../types.ts";
import { PostgresBackend } from "../backends/postgres.ts";
import { RedisBackend } from "../backends/redis.ts";
import { type FaultMode, FaultProxy, seededRandom } from "./_fault_proxy.ts";

/** What the parent passes (as JSON in argv). */
export interface FaultChildConfig {
  backend: "redis" | "postgres";
  /** The real server's port on 127.0.0.1. */
  port: number;
  proc: string;
  ops: number;
  seed: number;
  faultEvery: number;
  /** The client's command / query timeout, in ms; a stall lasts longer. */
  timeoutMs: number;
  stallMs: number;
}

/** What the child prints. */
export interface FaultChildReport {
  proc: string;
  ops: number;
  faults: Record<FaultMode, number>;
  /** Writes sent again with the same request id (the manager's retries). */
  retries: number;
  /** Backend calls that failed (each retried or reported). */
  failedAttempts: number;
  /** Operations that failed with outcomeUnknown, and those of them that had landed. */
  unknown: number;
  unknownApplied: number;
  /** Operations that failed with a known outcome (nothing written). */
  failed: number;
  /** The longest an operation took, in ms, and the errors seen by kind (digits as #). */
  slowestMs: number;
  errors: Record<string, number>;
  violations: string[];
  /** Acknowledged: keys saved, three-key groups written, increments. */
  saved: string[];
  multi: string[];
  increments: number;
  /** by[proc] as this process resolved it: acknowledged plus unknown ones that landed. */
  counted: number;
  /** Failed with a known outcome: must be absent. */
  notSaved: string[];
  notMulti: string[];
  /** Failed with an unknown outcome: present or absent (a group all or nothing). */
  maybeSaved: string[];
  maybeMulti: string[];
  /** The own namespace: checkpoints that must exist, must not, the value of "gen". */
  checkpoints: string[];
  noCheckpoints: string[];
  gen: number | null;
}

type Count = { n: number; by: Record<string, number> };

const config = JSON.parse(process.argv[2]!) as FaultChildConfig;
const random = seededRandom(config.seed);
const proxy = await FaultProxy.start({
  targetPort: config.port,
  stallMs: config.stallMs,
  random: seededRandom(config.seed ^ 0x5bd1e995),
});

const report: FaultChildReport = {
  proc: config.proc,
  ops: 0,
  faults: proxy.injected,
  retries: 0,
  failedAttempts: 0,
  unknown: 0,
  unknownApplied: 0,
  failed: 0,
  slowestMs: 0,
  errors: {},
  violations: [],
  saved: [],
  multi: [],
  increments: 0,
  counted: 0,
  notSaved: [],
  notMulti: [],
  maybeSaved: [],
  maybeMulti: [],
  checkpoints: [],
  noCheckpoints: [],
  gen: null,
};

// Counts failed calls and writes sent again with a request id already sent.
const WRITES = new Set(["commit", "checkpoint", "restore", "deleteCheckpoint", "clear"]);
const sentIds = new Set<string>();
function counting(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (WRITES.has(String(prop))) {
          const id = (args.at(-1) as { id?: unknown } | undefined)?.id;
          if (typeof id === "string") {
            if (sentIds.has(id)) report.retries++;
            sentIds.add(id);
          }
        }
        const result = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          report.failedAttempts++;
          throw error;
        });
      };
    },
  });
}

const real: Backend = config.backend === "redis"
  ? new RedisBackend({
    url: `redis://127.0.0.1:${proxy.port}`,
    redisOptions: { commandTimeout: config.timeoutMs, connectTimeout: config.timeoutMs },
  })
  : new PostgresBackend({
    url: `postgres://postgres@127.0.0.1:${proxy.port}/postgres`,
    queryTimeoutMs: config.timeoutMs,
    connectTimeoutMs: config.timeoutMs,
    poolSize: 2,
  });
const backend = counting(real);
const open = (namespace: string, retries: boolean) =>
  StateManager.open({ backend, namespace, ...(retries ? {} : { retry: false }) });
const shared = await open("faults", true);
const sharedOnce = await open("faults", false);
const own = await open(`faults-${config.proc}`, true);
const ownOnce = await open(`faults-${config.proc}`, false);

const OP_LIMIT_MS = 30_000;
let counted = 0;
let gen: number | null = null;
const checkpoints = new Map<string, number | null>(); // acknowledged, not deleted: name -> gen
const gone = new Set<string>(); // must not exist

/** Runs one operation: "ok", "failed" (nothing written) or "unknown"; records violations. */
async function attempt(
  what: string,
  fn: () => Promise<unknown>,
): Promise<"ok" | "failed" | "unknown"> {
  report.ops++;
  const start = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${OP_LIMIT_MS} ms`)), OP_LIMIT_MS);
  });
  try {
    await Promise.race([fn(), hang]);
    return "ok";
  } catch (error) {
    const kind = String((error as Error)?.message ?? error).replace(/\d+/g, "#").slice(0, 160);
    report.errors[kind] = (report.errors[kind] ?? 0) + 1;
    if (!(error instanceof StateError)) {
      report.violations.push(`${what}: untyped error ${String(error)}`);
      return "unknown";
    }
    if (!(error instanceof BackendError) || !error.transient) {
      report.violations.push(`${what}: ${error.name} ${error.message}`);
      return error instanceof BackendError && error.outcomeUnknown ? "unknown" : "failed";
    }
    if (error.outcomeUnknown) {
      report.unknown++;
      return "unknown";
    }
    report.failed++;
    return "failed";
  } finally {
    clearTimeout(timer);
    report.slowestMs = Math.max(report.slowestMs, Date.now() - start);
  }
}

/** Reads through the retrying manager until it answers (faults may still be armed). */
async function settled<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= 20 || !(error instanceof BackendError && error.transient)) throw error;
    }
  }
}

const readGen = () => settled(() => own.load<number | null>("gen", null));
const readMine = async () =>
  (await settled(() => shared.load<Count | null>("count", null)))?.by[config.proc] ?? 0;

async function increment(s: StateManager, i: number): Promise<void> {
  let wrote: Count | undefined;
  const outcome = await attempt(`increment ${i}`, async () => {
    wrote = await s.update<Count>("count", (c = { n: 0, by: {} }) => ({
      n: c.n + 1,
      by: { ...c.by, [config.proc]: (c.by[config.proc] ?? 0) + 1 },
    }));
  });
  if (outcome === "ok") {
    counted++;
    report.increments++;
    const mine = wrote?.by[config.proc] ?? 0;
    if (mine !== counted) {
      report.violations.push(`increment ${i} wrote ${mine}, not ${counted}`);
      counted = mine;
    }
    return;
  }
  const mine = await readMine();
  if (mine === counted + 1 && outcome === "unknown") {
    counted++;
    report.unknownApplied++;
  } else if (mine !== counted) {
    report.violations.push(
      `increment ${i} (${outcome}): by[${config.proc}] is ${mine}, expected ${counted}` +
        (outcome === "unknown" ? ` or ${counted + 1}` : ""),
    );
    counted = mine;
  }
}

async function saveGen(s: StateManager, i: number): Promise<void> {
  const outcome = await attempt(`save gen ${i}`, () => s.save("gen", i));
  if (outcome === "ok") {
    gen = i;
    return;
  }
  const now = await readGen();
  if (outcome === "failed" && now !== gen) {
    report.violations.push(`save gen ${i} failed, but gen is ${now} (was ${gen})`);
  }
  gen = now;
}

async function checkpoint(s: StateManager, i: number): Promise<void> {
  const name = `cp-${i}`;
  const outcome = await attempt(`checkpoint ${name}`, () => s.checkpoint(name));
  if (outcome === "ok") checkpoints.set(name, gen);
  else if (outcome === "failed") gone.add(name);
}

async function restore(s: StateManager, name: string): Promise<void> {
  const target = checkpoints.get(name)!;
  const outcome = await attempt(`restore ${name}`, () => s.restoreCheckpoint(name));
  const now = await readGen();
  if (outcome === "ok" && now !== target) {
    report.violations.push(`restore ${name} acknowledged, but gen is ${now}, not ${target}`);
  } else if (outcome === "failed" && now !== gen) {
    report.violations.push(`restore ${name} failed, but gen is ${now} (was ${gen})`);
  } else if (outcome === "unknown" && now !== gen && now !== target) {
    report.violations.push(
      `restore ${name} (unknown): gen is ${now}, neither ${gen} nor ${target}`,
    );
  }
  gen = now;
}

async function remove(s: StateManager, name: string): Promise<void> {
  let notFound = false;
  const outcome = await attempt(`delete ${name}`, async () => {
    try {
      await s.deleteCheckpoint(name);
    } catch (error) {
      notFound = error instanceof CheckpointNotFoundError;
      throw error;
    }
  });
  if (notFound) report.violations.push(`delete ${name}: not found, though acknowledged earlier`);
  if (outcome === "ok") {
    checkpoints.delete(name);
    gone.add(name);
  } else if (outcome === "unknown") {
    checkpoints.delete(name);
  }
}

const MODES: FaultMode[] = ["drop", "reset", "stall", "refuse"];
const keysOf = (i: number) => ["a", "b", "c"].map((x) => `m/${config.proc}/${i}/${x}`);
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;

// Warm up (the schema, the scripts) before the first fault.
await settled(() => own.save("gen", -1));
gen = -1;
for (let i = 0; i < config.ops; i++) {
  if (random() * config.faultEvery < 1) proxy.arm(pick(MODES), Math.floor(random() * 3));
  const once = random() < 0.25; // a quarter without retries: their errors reach us
  const s = once ? sharedOnce : shared;
  const o = once ? ownOnce : own;
  const r = random();
  if (r < 0.25) {
    const key = `k/${config.proc}/${i}`;
    const outcome = await attempt(`save ${key}`, () => s.save(key, i));
    (outcome === "ok" ? report.saved : outcome === "failed" ? report.notSaved : report.maybeSaved)
      .push(key);
  } else if (r < 0.5) {
    await increment(s, i);
  } else if (r < 0.68) {
    const entries = Object.fromEntries(keysOf(i).map((k) => [k, i]));
    const outcome = await attempt(`saveMany ${i}`, () => s.saveMany(entries));
    const group = `m/${config.proc}/${i}`;
    (outcome === "ok" ? report.multi : outcome === "failed" ? report.notMulti : report.maybeMulti)
      .push(group);
  } else if (r < 0.8 || checkpoints.size === 0) {
    await saveGen(o, i);
    await checkpoint(o, i);
  } else if (r < 0.9) {
    await restore(o, pick([...checkpoints.keys()]));
  } else {
    await remove(o, pick([...checkpoints.keys()]));
  }
}
proxy.disarm();
report.counted = counted;
report.checkpoints = [...checkpoints.keys()];
report.noCheckpoints = [...gone];
report.gen = gen;
for (const s of [shared, sharedOnce, own, ownOnce]) await s.close();
await real.close();
await proxy.close();
console.log(JSON.stringify(report));
