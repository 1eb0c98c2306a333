// Real PostgreSQL servers for the PostgreSQL tests. The tests use
// DATABASE_URL when it is set; otherwise they start their own server: initdb
// into a temp folder, then `postgres` on a free loopback port, stopped by its
// pid. Run as root, both run as the `postgres` user (PostgreSQL refuses root),
// in a folder that user owns. No server is a failing test, never a skip.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import pg from "pg";
import { freePort } from "./_redis_server.ts";
import { removeDir, runCommand, tempDir } from "./_runtime.ts";

/** A server started by a test. */
export interface PgServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** The running postmaster's pid, or undefined when stopped. */
  readonly pid: number | undefined;
  /** Starts it again on the same port and data folder (after kill()). */
  start(): Promise<void>;
  /** SIGKILL to the postmaster and every backend of it, and wait until they are gone. */
  kill(): Promise<void>;
  /** Fast shutdown, wait, and remove its folder. */
  stop(): Promise<void>;
}

/** The folder of Debian's (or PG_BIN's) server binaries, or null. */
export function pgBinDir(): string | null {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) return existsSync(join(fromEnv, "postgres")) ? fromEnv : null;
  const config = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const bindir = config.status === 0 ? config.stdout.trim() : "";
  if (bindir && existsSync(join(bindir, "initdb"))) return bindir;
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => +b - +a);
  for (const v of versions) {
    if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  }
  return null;
}

/** Runs as the postgres user when we are root (via setpriv, which execs: the pid stays). */
function asServerUser(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  return [
    "setpriv",
    ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", cmd, ...args],
  ];
}

/** Whether a server at `url` answers a query. */
export async function answers(url: string, timeoutMs = 1000): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts a fresh server on a free port, with `settings` as `-c name=value`
 * (e.g. the benchmark's `fsync=off`); throws (saying why) if it cannot.
 */
export async function startPgServer(settings: string[] = []): Promise<PgServer> {
  const bin = pgBinDir();
  if (!bin) {
    throw new Error(
      "no PostgreSQL server binaries (install Debian's postgresql, or set PG_BIN or DATABASE_URL)",
    );
  }
  const port = await freePort();
  const dir = tempDir("ms-pg-");
  const data = join(dir, "data");
  if (process.getuid?.() === 0) {
    const ids = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gids = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (ids.status !== 0) throw new Error("running as root, but there is no postgres user");
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const [initCmd, initArgs] = asServerUser(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
  ]);
  const init = await runCommand(initCmd, initArgs);
  if (init.code !== 0) {
    removeDir(dir);
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  // One user logs in by password, for the wrong-password test; everyone else is trusted.
  const hba = join(data, "pg_hba.conf");
  writeFileSync(
    hba,
    "host all ms_pw_user 127.0.0.1/32 scram-sha-256\n" + readFileSync(hba, "utf8"),
  );
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const [cmd, args] = asServerUser(join(bin, "postgres"), [
      "-D",
      data,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${dir}`,
      "-c",
      "max_connections=300",
      "-c",
      "shared_buffers=32MB",
      ...settings.flatMap((setting) => ["-c", setting]),
    ]);
    // Its own process group: kill() reaches the postmaster and every backend at once.
    const proc = spawn(cmd, args, { stdio: "ignore", detached: true });
    child = proc;
    let failed: Error | undefined;
    exited = new Promise((resolve) => {
      proc.on("error", (error) => {
        failed = error;
        resolve();
      });
      proc.on("exit", () => resolve());
    });
    const deadline = Date.now() + 20_000;
    let why: string | null = "not started";
    while ((why = await answers(url, 500)) !== null) {
      if (failed || proc.exitCode !== null || Date.now() > deadline) {
        proc.kill("SIGKILL");
        child = undefined;
        throw new Error(
          `could not start postgres on port ${port}: ${failed?.message ?? why}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const signal = async (sig: "SIGKILL" | "SIGINT") => {
    const proc = child;
    if (!proc?.pid) return;
    try {
      process.kill(sig === "SIGKILL" ? -proc.pid : proc.pid, sig);
    } catch {
      // already gone
    }
    await exited;
    child = undefined;
    // Backends that outlive a killed postmaster hold its shared memory: wait for them.
    for (let i = 0; i < 100 && sig === "SIGKILL"; i++) {
      const left = spawnSync("pgrep", ["-g", String(proc.pid)], { encoding: "utf8" });
      if (left.status !== 0 || left.stdout.trim() === "") break;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await start();
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    start,
    kill: () => signal("SIGKILL"),
    stop: async () => {
      await signal("SIGINT"); // fast shutdown
      removeDir(dir);
    },
  };
}

/** The PostgreSQL the tests run against: DATABASE_URL, or a server they started. */
export interface PgTarget {
  url: string;
  /** Set when the tests started it; stop it when done. */
  server?: PgServer;
}

/** DATABASE_URL if set (and answering), else a fresh local server; a reason string if neither. */
export async function pgTarget(): Promise<PgTarget | string> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const why = await answers(url, 3000);
    return why === null ? { url } : `DATABASE_URL is set but does not answer: ${why}`;
  }
  try {
    const server = await startPgServer();
    return { url: server.url, server };
  } catch (error) {
    return `DATABASE_URL is not set and ${(error as Error).message}`;
  }
}

/** Registers one failing test: the PostgreSQL tests could not find a server (never a skip). */
export function reportNoServer(what: string, reason: string): void {
  test(`${what}: a PostgreSQL server is available`, () => {
    throw new Error(
      `${what}: no PostgreSQL server (${reason}). Install postgresql or set DATABASE_URL.`,
    );
  });
}

/** A fresh schema name for one test. */
export function newSchema(): string {
  return `mst_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** Drops a test's schema (and everything in it). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => {});
  }
}
