// Shared pieces of the benchmark cases: arguments, the ~200-byte value, the
// timing loop (bounded by time and count, p50 from per-op latencies) and the
// one-line JSON results the driver (scripts/bench.ts) collects.
//
// Every case file runs in a fresh process, on Deno or on Node 24, so it uses
// only node: APIs, npm: packages and the library's own source.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** What the driver passes to a case. */
export interface CaseArgs {
  /** Keys in the namespace. */
  n: number;
  /** Upper bound of one timed loop, in ms. */
  maxMs: number;
  /** Upper bound of one timed loop, in operations. */
  maxOps: number;
  /** Redis URL, when a server is available. */
  redisUrl?: string;
  /** PostgreSQL URL, when a server is available. */
  pgUrl?: string;
}

/** The arguments of this case process (one JSON argument). */
export function caseArgs(): CaseArgs {
  const raw = process.argv[2];
  const args = raw ? JSON.parse(raw) as Partial<CaseArgs> : {};
  return { n: 1000, maxMs: 400, maxOps: 20_000, ...args };
}

/** Whether this process runs on Deno. */
export const isDeno = "Deno" in globalThis;

/** The runtime's name. */
export const runtime = isDeno ? "deno" : "node";

/** One measured row. */
export interface Result {
  /** Backend group: "sqlite", "json", "redis", "kv", "migrate". */
  group: string;
  /** Who: "raw node:sqlite", "managing-state", "keyv + @keyv/sqlite", ... */
  impl: string;
  /** The operation: "save", "load", "load (cached)", "checkpoint", ... */
  op: string;
  /** Keys in the namespace. */
  n: number;
  /** Operations per second. */
  ops: number;
  /** Median latency per operation, in microseconds. */
  p50us: number;
  /** Extra facts (peak memory, settings). */
  note?: string;
}

/** Prints one result for the driver. */
export function emit(result: Result): void {
  console.log(JSON.stringify({ result }));
}

/** Prints a skipped case with the reason. */
export function skip(group: string, impl: string, reason: string): void {
  console.log(JSON.stringify({ skip: { group, impl, reason } }));
}

/** Times `fn` in a loop bounded by `maxMs` and `maxOps`, after a short warm-up. */
export async function measure(
  fn: (i: number) => unknown,
  args: { maxMs: number; maxOps: number },
  warmup = 200,
): Promise<{ ops: number; p50us: number; count: number }> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const lat = new Float64Array(args.maxOps);
  let count = 0;
  const start = performance.now();
  let last = start;
  while (count < args.maxOps) {
    await fn(warmup + count);
    const now = performance.now();
    lat[count++] = now - last;
    last = now;
    if (now - start >= args.maxMs) break;
  }
  const total = last - start;
  const sorted = lat.subarray(0, count).sort();
  return {
    ops: count / (total / 1000),
    p50us: sorted[Math.floor(count / 2)]! * 1000,
    count,
  };
}

/** Measures and emits one row. */
export async function run(
  row: Omit<Result, "ops" | "p50us">,
  fn: (i: number) => unknown,
  args: CaseArgs,
  warmup = 200,
): Promise<void> {
  const m = await measure(fn, args, warmup);
  emit({ ...row, ops: m.ops, p50us: m.p50us });
}

/** Times a slow operation (checkpoint, restore, copy) a few times; emits the median. */
export async function runFew(
  row: Omit<Result, "ops" | "p50us">,
  fn: (i: number) => unknown,
  times = 5,
  before?: () => unknown,
): Promise<void> {
  const lat: number[] = [];
  await fn(-1); // warm-up
  for (let i = 0; i < times; i++) {
    await before?.();
    const t0 = performance.now();
    await fn(i);
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const p50 = lat[Math.floor(lat.length / 2)]!;
  emit({ ...row, ops: 1000 / p50, p50us: p50 * 1000 });
}

/**
 * The ~200-byte JSON value every case stores, varied by `i`. Cases fill a
 * namespace with `makeValue(-1 - j)` and then write `makeValue(i)`, so every
 * timed write changes the stored bytes (SQLite skips writing a row that is
 * byte-identical, which would make a write look free).
 */
export function makeValue(i: number): {
  id: number;
  phase: string;
  status: string;
  attempts: number;
  tasks: string[];
  note: string;
} {
  return {
    id: i,
    phase: "build",
    status: "in_progress",
    attempts: Math.abs(i % 7),
    tasks: ["scout", "plan", "build", "test", "review"],
    note: `step ${i % 1000} of the workflow: compiled, linked, waiting for tests ${"-".repeat(40)}`,
  };
}

/** The key of item `i` of a namespace of `n` keys. */
export function keyOf(i: number, n: number): string {
  return `task:${String(i % n).padStart(6, "0")}`;
}

/** A fresh temp folder (removed at exit). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ms-bench-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Flushes a folder's file system to disk, so one case does not pay for another's dirty pages. */
export function syncDisk(dir: string): void {
  try {
    execFileSync("sync", ["-f", dir]);
  } catch {
    // not available on this platform
  }
}

/** Imports a module of the library that may not exist yet (built on another branch). */
export async function optionalImport<T>(relative: string): Promise<T | null> {
  const url = new URL(relative, import.meta.url);
  try {
    return await import(url.href) as T;
  } catch (error) {
    const message = String((error as Error)?.message ?? error);
    if (/not found|cannot find|ERR_MODULE_NOT_FOUND|no such file/i.test(message)) return null;
    throw error;
  }
}
