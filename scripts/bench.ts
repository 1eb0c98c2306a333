// `deno task bench`: managing-state against the raw drivers and the peers a
// user would pick instead, side by side in one run, on Deno and on Node 24.
//
// Method (see the project's benchmarking notes): every case runs in a fresh
// process, pinned with a private redis-server to one CPU (taskset -c 1);
// at least 3 rounds, reporting the median and the min-max spread of ops/s
// plus the median p50 latency; disk folders are flushed before timed disk
// work; each timed loop is bounded by time and count. Absolute numbers move
// between runs on shared machines: read the ratios, which come from one run.
//
// Options: --rounds=3 --sizes=1000,10000 --runtimes=deno,node --max-ms=400
// --filter=<regexp on case file names> --quick (1 round, shorter loops)
// --out=<file> (raw results as JSON, written after every round)
// --report=<file> (print the tables of a saved run again).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CLI_LOAD, printReport, type Row, type Skip } from "./bench/_report.ts";
import { prepareNode, type Runtime } from "./bench/_node_runtime.ts";
import { type PgServer, startPgServer } from "../tests/_pg_server.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const lock = join(here, "bench", "deno.lock");

const flags = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k!, v ?? "true"];
  }),
);
const quick = flags.quick === "true";
const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
const sizes = (flags.sizes ?? "1000,10000").split(",").map(Number);
const maxMs = Number(flags["max-ms"] ?? (quick ? 150 : 400));
const filter = flags.filter ? new RegExp(flags.filter) : null;
const wanted = (flags.runtimes ?? "deno,node").split(",");

/** Case files, the sizes they run at, and the runtimes they make sense on. */
const CASES: { file: string; sizes?: number[]; deno?: boolean; node?: boolean }[] = [
  { file: "sqlite_raw" },
  { file: "sqlite_ours" },
  { file: "sqlite_keyv" },
  { file: "file_raw" },
  { file: "json_ours" },
  { file: "json_lowdb" },
  { file: "json_unstorage" },
  { file: "redis_raw" },
  { file: "redis_ours" },
  { file: "redis_keyv" },
  { file: "redis_unstorage" },
  { file: "postgres_raw" },
  { file: "postgres_ours" },
  { file: "postgres_keyv" },
  { file: "keyv_ours" },
  { file: "langgraph", sizes: [200] },
  { file: "kv_raw", node: false },
  { file: "kv_ours", node: false },
  { file: "migrate", sizes: [100_000] },
];

const pin = commandExists("taskset") ? ["taskset", "-c", "1"] : [];

function commandExists(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a private, pinned redis-server without persistence; null when there is none. */
async function startRedis(): Promise<{ url: string; stop(): void } | null> {
  if (!commandExists("redis-server")) return null;
  const port = await freePort();
  const child = spawn(
    pin[0] ?? "redis-server",
    [...pin.slice(1), ...(pin.length ? ["redis-server"] : []), "--port", String(port)].concat([
      "--save",
      "",
      "--appendonly",
      "no",
      "--bind",
      "127.0.0.1",
    ]),
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100; i++) {
    const ping = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
    if (ping.stdout?.trim() === "PONG") {
      return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGTERM") };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGTERM");
  return null;
}

/**
 * Starts a private PostgreSQL server, pinned like redis-server; null when there is none.
 * `fsync=off`: every commit is still written to the WAL before it is acknowledged (so it
 * survives the server being killed, like SQLite's synchronous=NORMAL), but the disk's flush
 * latency (1-4 ms here, and noisy) no longer hides what the client code costs. The raw
 * floor and the library run against the same server.
 */
async function startPostgres(): Promise<PgServer | null> {
  try {
    const server = await startPgServer(["fsync=off"]);
    // Backends fork from the postmaster and inherit its CPU.
    if (pin.length && server.pid) spawnSync("taskset", ["-a", "-cp", "1", String(server.pid)]);
    return server;
  } catch (error) {
    log(`No PostgreSQL server: ${(error as Error).message}`);
    return null;
  }
}

function runCase(
  runtime: Runtime,
  file: string,
  args: object,
): { rows: Row[]; skips: Skip[] } {
  const script = join(here, "bench", `${file}.ts`);
  const [cmd, ...lead] = [...pin, ...runtime.command];
  const result = spawnSync(cmd!, [...lead, script, JSON.stringify(args)], {
    encoding: "utf8",
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const rows: Row[] = [];
  const skips: Skip[] = [];
  for (const line of (result.stdout ?? "").split("\n")) {
    if (!line.startsWith("{")) continue;
    const parsed = JSON.parse(line);
    if (parsed.result) rows.push({ ...parsed.result, runtime: runtime.name });
    if (parsed.skip) skips.push({ ...parsed.skip, runtime: runtime.name });
  }
  if (result.status !== 0) {
    const why = (result.stderr ?? "").trim().split("\n").slice(-3).join(" / ");
    skips.push({ group: file, impl: file, reason: `failed: ${why}`, runtime: runtime.name });
  }
  return { rows, skips };
}

/**
 * CLI start-up: `load` on a JSON and on a SQLite namespace against an empty
 * `deno run`, wall time. The cases take turns run by run (so a busy moment of
 * the machine hits all of them alike); each row is the median of `times`
 * runs, its note the spread (quartiles and extremes).
 */
function measureCli(times: number): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "ms-bench-cli-"));
  try {
    const empty = join(dir, "empty.ts");
    writeFileSync(empty, "");
    const cli = join(root, "cli.ts");
    const perms = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
    const common = ["--dir", join(dir, "state"), "--namespace", "wf"];
    const deno = process.execPath;
    const run = (args: string[]): number => {
      const [cmd, ...lead] = [...pin, deno];
      const t0 = performance.now();
      const r = spawnSync(cmd!, [...lead, ...args], { stdio: "ignore", cwd: dir });
      if (r.status !== 0) throw new Error(`deno ${args.join(" ")} exited with ${r.status}`);
      return performance.now() - t0;
    };
    const cases: [string, string[]][] = [["empty deno run", ["run", empty]]];
    for (const backend of ["json", "sqlite"]) {
      const where = ["--backend", backend, ...common];
      run(["run", ...perms, cli, "save", "--key", "phase", "--value", "building", ...where]);
      cases.push([`${CLI_LOAD} ${backend}`, [
        "run",
        ...perms,
        cli,
        "load",
        "--key",
        "phase",
        ...where,
      ]]);
    }
    const ms = cases.map(([, args]) => {
      run(args); // warm the module cache
      return [] as number[];
    });
    for (let i = 0; i < times; i++) cases.forEach(([, args], c) => ms[c]!.push(run(args)));
    return cases.map(([impl], c) => {
      const sorted = ms[c]!.sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      const median = at(0.5);
      const f = (x: number) => x.toFixed(1);
      return {
        runtime: "deno",
        group: "cli",
        impl,
        op: "start-up",
        n: 1,
        ops: 1000 / median,
        p50us: median * 1000,
        note: `p25-p75 ${f(at(0.25))}-${f(at(0.75))} ms, min-max ${f(sorted[0]!)}-${
          f(sorted[sorted.length - 1]!)
        } ms, ${times} runs`,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const settings = { rounds, sizes, maxMs, pinned: pin.length > 0 };
if (flags.report) {
  const saved = JSON.parse(readFileSync(flags.report, "utf8"));
  printReport(saved.rows, saved.skips, saved.settings ?? settings);
  process.exit(0);
}

const runtimes: Runtime[] = [];
if (wanted.includes("deno")) {
  runtimes.push({
    name: "deno",
    command: [process.execPath, "run", "-A", "--unstable-kv", `--lock=${lock}`, "--quiet"],
  });
}
const skips: Skip[] = [];
if (wanted.includes("node")) {
  const node = prepareNode(log);
  if (node) runtimes.push(node);
  else skips.push({ group: "all", impl: "all", reason: "Node 24 unavailable", runtime: "node" });
}
const redis = await startRedis();
if (!redis) log("No redis-server: the Redis cases are skipped.");
const postgres = filter && !filter.test("postgres") ? null : await startPostgres();
const rows: Row[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    for (const c of CASES) {
      if (filter && !filter.test(c.file)) continue;
      for (const n of c.sizes ?? sizes) {
        for (const runtime of runtimes) {
          if (c[runtime.name] === false) continue;
          log(`round ${round}/${rounds}: ${runtime.name} ${c.file} n=${n}`);
          const args = {
            n,
            maxMs,
            maxOps: 20_000,
            ...(redis ? { redisUrl: redis.url } : {}),
            ...(postgres ? { pgUrl: postgres.url } : {}),
          };
          const out = runCase(runtime, c.file, args);
          rows.push(...out.rows);
          if (round === 1) skips.push(...out.skips);
        }
      }
    }
    if (
      wanted.includes("deno") && (!filter || filter.test("cli")) && existsSync(join(root, "cli.ts"))
    ) {
      log(`round ${round}/${rounds}: deno cli start-up`);
      try {
        rows.push(...measureCli(quick ? 7 : 31));
      } catch (error) {
        if (round === 1) {
          skips.push({ runtime: "deno", group: "cli", impl: "cli", reason: String(error) });
        }
      }
    }
    // Keep what was measured so far: `--report=<file>` prints it again.
    if (flags.out) writeFileSync(flags.out, JSON.stringify({ rows, skips, settings }, null, 2));
  }
} finally {
  redis?.stop();
  await postgres?.stop();
}
printReport(rows, skips, settings);
