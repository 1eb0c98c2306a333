// `deno task soak` (not part of CI): load held over time. Per backend, 16
// clients (separate processes; in-process for the memory backend) run mixed
// operations for 60 s on a shared namespace of 1,000 keys (loads, saves,
// update() increments of one counter, atomic multi-key writes, listings) and
// their own namespaces (checkpoints and restores). Reports throughput, p50 and
// p99 latency, errors (the goal is none), each client's memory growth from
// after warm-up to the end, and whether the shared counter equals the
// acknowledged increments.
//
// Options: --seconds=60 --clients=16 --backends=memory,json,sqlite,redis,kv --out=<file>
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Backend, MemoryBackend, type OpenOptions, StateManager } from "../mod.ts";
import { startRedisServer } from "../tests/_redis_server.ts";
import { removeDir, tempDir } from "../tests/_runtime.ts";
import {
  type ClientOptions,
  type ClientResult,
  type Histogram,
  runClient,
  SHARED,
  SHARED_KEYS,
  valueOf,
} from "./soak/_client.ts";

const here = dirname(fileURLToPath(import.meta.url));
const flags = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k!, v ?? "true"];
  }),
);
const seconds = Number(flags.seconds ?? 60);
const clients = Number(flags.clients ?? 16);
const backends = (flags.backends ?? "memory,json,sqlite,redis,kv").split(",");

/** One backend's figures. */
interface Row {
  backend: string;
  clients: number;
  seconds: number;
  ops: number;
  opsPerSecond: number;
  p50us: number;
  p99us: number;
  perOp: Record<string, { done: number; p50us: number; p99us: number; errors: number }>;
  errors: number;
  errorSamples: string[];
  /** Largest growth of one client's RSS / JS heap from after warm-up to the end, in MB. */
  rssGrowthMb: number;
  heapGrowthMb: number;
  counter: { expected: number; found: number };
}

function quantile(h: Histogram, q: number): number {
  const buckets = Object.entries(h).map(([b, n]) => [Number(b), n] as const).sort((a, b) =>
    a[0] - b[0]
  );
  const total = buckets.reduce((n, [, c]) => n + c, 0);
  let seen = 0;
  for (const [b, n] of buckets) {
    seen += n;
    if (seen >= q * total) return Math.round(1.02 ** (b + 0.5));
  }
  return 0;
}

function merge(into: Histogram, from: Histogram): void {
  for (const [b, n] of Object.entries(from)) into[Number(b)] = (into[Number(b)] ?? 0) + n;
}

function child(options: ClientOptions): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [
      "run",
      "-A",
      "--unstable-kv",
      "--v8-flags=--expose-gc",
      join(here, "soak", "_client.ts"),
      JSON.stringify(options),
    ], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    proc.on("error", reject);
    proc.on("close", (code) => {
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1)!));
      } catch {
        reject(new Error(`client ${options.id} exited ${code} without results`));
      }
    });
  });
}

async function soak(backend: string): Promise<Row> {
  const dir = tempDir("ms-soak-");
  const redis = backend === "redis" ? await startRedisServer() : undefined;
  try {
    const location: Record<string, string> = backend === "redis"
      ? { url: redis!.url }
      : backend === "kv"
      ? { path: join(dir, "state.kv") }
      : { dir };
    const memory: Backend | undefined = backend === "memory" ? new MemoryBackend() : undefined;
    const open = (namespace: string) =>
      memory
        ? StateManager.open({ backend: memory, namespace })
        // The name comes from the command line; open() checks it at run time.
        : StateManager.open({ ...location, backend, namespace } as OpenOptions);
    const setup = await open(SHARED);
    await setup.saveMany(
      Object.fromEntries(Array.from({ length: SHARED_KEYS }, (_, i) => [`key-${i}`, valueOf(i)])),
    );
    const options = (id: number): ClientOptions => ({
      backend: memory ?? backend,
      location,
      id,
      seconds,
    });
    const results = await Promise.all(
      Array.from(
        { length: clients },
        (_, id) => memory ? runClient(options(id)) : child(options(id)),
      ),
    );
    const found = await setup.load<number>("counter", 0);
    await setup.close();
    await memory?.close();
    const all: Histogram = {};
    const perOp: Row["perOp"] = {};
    const byOp: Record<string, { h: Histogram; done: number; errors: number }> = {};
    for (const r of results) {
      for (const [op, s] of Object.entries(r.ops)) {
        const o = byOp[op] ??= { h: {}, done: 0, errors: 0 };
        merge(o.h, s.histogram);
        merge(all, s.histogram);
        o.done += s.done;
        o.errors += s.errors;
      }
    }
    for (const [op, o] of Object.entries(byOp)) {
      perOp[op] = {
        done: o.done,
        p50us: quantile(o.h, 0.5),
        p99us: quantile(o.h, 0.99),
        errors: o.errors,
      };
    }
    const ops = Object.values(byOp).reduce((n, o) => n + o.done, 0);
    const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
    return {
      backend,
      clients,
      seconds,
      ops,
      opsPerSecond: Math.round(ops / seconds),
      p50us: quantile(all, 0.5),
      p99us: quantile(all, 0.99),
      perOp,
      errors: Object.values(byOp).reduce((n, o) => n + o.errors, 0),
      errorSamples: results.flatMap((r) => r.errorSamples).slice(0, 5),
      rssGrowthMb: mb(Math.max(...results.map((r) => r.memory.rssEnd - r.memory.rssStart))),
      heapGrowthMb: mb(Math.max(...results.map((r) => r.memory.heapEnd - r.memory.heapStart))),
      counter: { expected: results.reduce((n, r) => n + r.increments, 0), found },
    };
  } finally {
    await redis?.stop();
    removeDir(dir);
  }
}

const ms = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`);

const rows: Row[] = [];
for (const backend of backends) {
  process.stderr.write(`soak: ${backend}, ${clients} clients, ${seconds} s...\n`);
  const row = await soak(backend);
  rows.push(row);
  if (flags.out) writeFileSync(flags.out, JSON.stringify(rows, null, 2));
  console.log(
    `${backend.padEnd(7)} ${String(row.opsPerSecond).padStart(7)} ops/s  p50 ${
      ms(row.p50us).padStart(8)
    }  p99 ${ms(row.p99us).padStart(8)}  errors ${row.errors}  ` +
      `memory growth per client: RSS ${row.rssGrowthMb} MB, heap ${row.heapGrowthMb} MB  ` +
      `counter ${row.counter.found}/${row.counter.expected}` +
      (row.counter.found === row.counter.expected ? " ok" : " MISMATCH"),
  );
  for (const [op, o] of Object.entries(row.perOp).sort()) {
    console.log(
      `          ${op.padEnd(10)} ${String(o.done).padStart(8)} done  p50 ${
        ms(o.p50us).padStart(8)
      }  p99 ${ms(o.p99us).padStart(8)}  errors ${o.errors}`,
    );
  }
  for (const e of row.errorSamples) console.log(`          error: ${e}`);
}
