// Real Redis servers for the Redis tests. The tests use REDIS_URL when it is
// set; otherwise they start their own `redis-server` on a free loopback port
// and stop it by its pid afterwards. When no server can be found or started,
// the tests fail when CI is set and are skipped loudly otherwise.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { test, type TestContext } from "node:test";
import { Cluster, Redis } from "ioredis";
import { removeDir, runCommand, tempDir } from "./_runtime.ts";

/** A redis-server process started by a test. */
export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Its working folder (AOF files live here). */
  dir: string;
  /** The running process's pid, or undefined when stopped. */
  readonly pid: number | undefined;
  /** Starts it again on the same port and folder (after kill()). */
  start(): Promise<void>;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, wait, and remove its folder. */
  stop(): Promise<void>;
}

/**
 * A server of the test's own (never REDIS_URL's: the caller kills, restarts or
 * stalls it), or the reason none could start, for reportUnavailable().
 */
export async function privateRedisServer(args: string[] = []): Promise<RedisServer | string> {
  try {
    return await startRedisServer(args);
  } catch (error) {
    return (error as Error).message;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something on `port` answers PING like Redis (any RESP reply counts). */
export function ping(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 500);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => finish(/^[+-]/.test(data.toString())));
    socket.on("error", () => finish(false));
  });
}

/** Starts `redis-server` on a free port with `args` added; throws if it cannot. */
export async function startRedisServer(args: string[] = [], port?: number): Promise<RedisServer> {
  port ??= await freePort();
  const dir = tempDir("ms-redis-");
  const argv = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--dir",
    dir,
    ...args,
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const proc = spawn("redis-server", argv, { stdio: "ignore" });
    child = proc;
    let failed: Error | undefined;
    exited = new Promise((resolve) => {
      proc.on("error", (error) => {
        failed = error;
        resolve();
      });
      proc.on("exit", () => resolve());
    });
    const deadline = Date.now() + 5000;
    while (!(await ping(port))) {
      if (failed || proc.exitCode !== null || Date.now() > deadline) {
        proc.kill("SIGKILL");
        child = undefined;
        throw new Error(
          `could not start redis-server on port ${port}: ${failed?.message ?? "no answer to PING"}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const signal = async (sig: "SIGKILL" | "SIGTERM") => {
    if (!child) return;
    child.kill(sig);
    await exited;
    child = undefined;
  };
  await start().catch((error) => {
    removeDir(dir);
    throw error;
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid;
    },
    start,
    kill: () => signal("SIGKILL"),
    stop: async () => {
      await signal("SIGTERM");
      removeDir(dir);
    },
  };
}

/** The Redis the tests run against: REDIS_URL, or a server they started. */
export interface RedisTarget {
  url: string;
  /** Set when the tests started it; stop it when done. */
  server?: RedisServer;
}

/** REDIS_URL if set (and answering), else a fresh local server; a reason string if neither. */
export async function redisTarget(): Promise<RedisTarget | string> {
  const url = process.env.REDIS_URL;
  if (url) {
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.ping();
      return { url };
    } catch (error) {
      return `REDIS_URL is set but does not answer: ${(error as Error).message}`;
    } finally {
      client.disconnect();
    }
  }
  try {
    const server = await startRedisServer();
    return { url: server.url, server };
  } catch (error) {
    return `REDIS_URL is not set and ${(error as Error).message}`;
  }
}

/**
 * Reports that `what` cannot run: a failing test when CI is set, otherwise
 * a warning and a skipped test, so it never passes silently.
 */
export function reportUnavailable(what: string, reason: string): void {
  const message = `${what}: no Redis server (${reason}). Install redis-server or set REDIS_URL.`;
  if (process.env.CI) {
    test(`${what}: a Redis server is available`, () => {
      throw new Error(`${message} CI is set, so this is a failure.`);
    });
  } else {
    console.warn(`WARNING: skipping ${message}`);
    test(`${what}: skipped, no Redis server`, { skip: message }, () => {});
  }
}

/** Inside a test: fails when CI is set, else warns and marks the test skipped. */
export function skipUnavailable(t: TestContext, what: string, reason: string): void {
  const message = `${what} needs a redis-server it can start (${reason})`;
  if (process.env.CI) throw new Error(`${message}. CI is set, so this is a failure.`);
  console.warn(`WARNING: skipping: ${message}`);
  t.skip(message);
}

/** Deletes every key matching `pattern` on every master (SCAN, never KEYS). */
export async function deleteKeys(client: Redis | Cluster, pattern: string): Promise<void> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      for (const key of keys) await node.del(key);
      cursor = next;
    } while (cursor !== "0");
  }
}

/** Deletes every key under a test's prefix, through a short-lived client. */
export async function deletePrefix(url: string, prefix: string, cluster = false): Promise<void> {
  const port = Number(new URL(url).port || 6379);
  const client = cluster
    ? new Cluster([{ host: new URL(url).hostname, port }])
    : new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    if (client instanceof Cluster) await new Promise((r) => client.once("ready", r));
    await deleteKeys(client, `${prefix}:*`);
  } finally {
    client.disconnect();
  }
}

/** A local 3-master Redis Cluster. */
export interface RedisCluster {
  /** One node's URL (ioredis discovers the others). */
  url: string;
  servers: RedisServer[];
  stop(): Promise<void>;
}

/** Starts a 3-master cluster with `redis-cli --cluster create`; throws if it cannot. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startRedisServer([
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          "2000",
        ]),
      );
    }
    const created = await runCommand("redis-cli", [
      "--cluster",
      "create",
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    if (created.code !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    }
    const deadline = Date.now() + 10_000;
    for (const server of servers) {
      const client = new Redis(server.port, { maxRetriesPerRequest: 1 });
      try {
        while (!/cluster_state:ok/.test(String(await client.cluster("INFO")))) {
          if (Date.now() > deadline) throw new Error("the cluster did not reach cluster_state:ok");
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        client.disconnect();
      }
    }
    return { url: servers[0]!.url, servers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A master and one Sentinel watching it as "mymaster". */
export interface RedisSentinel {
  /** ioredis options that reach the master through the Sentinel. */
  redisOptions: { sentinels: { host: string; port: number }[]; name: string };
  master: RedisServer;
  stop(): Promise<void>;
}

/** Starts a master and a Sentinel (`redis-server <conf> --sentinel`); throws if it cannot. */
export async function startRedisSentinel(): Promise<RedisSentinel> {
  const master = await startRedisServer();
  const dir = tempDir("ms-sentinel-");
  const port = await freePort();
  const conf = join(dir, "sentinel.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
      "",
    ].join("\n"),
  );
  const child = spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => {
    child.on("error", () => resolve());
    child.on("exit", () => resolve());
  });
  const stop = async () => {
    child.kill("SIGTERM");
    await exited;
    removeDir(dir);
    await master.stop();
  };
  const deadline = Date.now() + 5000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`could not start a Sentinel on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    redisOptions: { sentinels: [{ host: "127.0.0.1", port }], name: "mymaster" },
    master,
    stop,
  };
}
