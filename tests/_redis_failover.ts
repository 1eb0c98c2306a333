// A replicated Redis for failover tests: a primary, replicas (--replicaof)
// and three Sentinels (quorum 2), all redis-server processes started on free
// loopback ports in temporary folders and stopped by pid. Sentinel timings
// are short (down after 1 s) so a failover takes a few seconds.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, ping, type RedisServer, startRedisServer } from "./_redis_server.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** The master group name the Sentinels watch. */
export const MASTER = "ms-durable";

/** A primary, its replicas and the Sentinels watching them. */
export interface FailoverSet {
  /** ioredis options that reach the current primary through the Sentinels. */
  redisOptions: { sentinels: { host: string; port: number }[]; name: string };
  /** The servers started, primary first. */
  servers: RedisServer[];
  /** The port of the primary the Sentinels name now. */
  primaryPort(): Promise<number>;
  /** Waits until the Sentinels name a primary other than `port`; returns its port. */
  promoted(port: number, timeoutMs: number): Promise<number>;
  /** Stops every process and removes the folders. */
  stop(): Promise<void>;
}

// Every server may become a primary: diskless sync without delay makes a
// replica's first sync immediate (Redis 7.0 waits 5 s by default).
export const SYNC = ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"];

/** Starts a primary with `replicas` replicas and three Sentinels; throws if it cannot. */
export async function startFailoverSet(replicas: number): Promise<FailoverSet> {
  const servers: RedisServer[] = [];
  const sentinels: { port: number; child: ChildProcess; exited: Promise<void>; dir: string }[] = [];
  const stop = async () => {
    await Promise.all(sentinels.map(async (s) => {
      s.child.kill("SIGKILL");
      await s.exited;
      removeDir(s.dir);
    }));
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const primary = await startRedisServer(SYNC);
    servers.push(primary);
    for (let i = 0; i < replicas; i++) {
      servers.push(
        await startRedisServer([...SYNC, "--replicaof", "127.0.0.1", String(primary.port)]),
      );
    }
    await until(10_000, "the replicas to be in sync", async () => {
      const info = String(await command(primary.port, "INFO", "replication"));
      return (info.match(/state=online/g) ?? []).length === replicas;
    });
    for (let i = 0; i < 3; i++) {
      const dir = tempDir("ms-sentinel-");
      const port = await freePort();
      const conf = join(dir, "sentinel.conf");
      writeFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${MASTER} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${MASTER} 1000`,
          `sentinel failover-timeout ${MASTER} 4000`,
          `sentinel parallel-syncs ${MASTER} ${replicas}`,
          "",
        ].join("\n"),
      );
      const child = spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" });
      const exited = new Promise<void>((resolve) => {
        child.on("error", () => resolve());
        child.on("exit", () => resolve());
      });
      sentinels.push({ port, child, exited, dir });
      await until(5000, `a Sentinel on port ${port}`, () => ping(port));
    }
    // Sentinels find the replicas (INFO) and each other (hello messages, every 2 s).
    await until(15_000, "the Sentinels to know each other and the replicas", async () => {
      for (const s of sentinels) {
        const others = await command(s.port, "SENTINEL", "SENTINELS", MASTER) as unknown[];
        const known = await command(s.port, "SENTINEL", "REPLICAS", MASTER) as unknown[];
        if (others.length !== 2 || known.length !== replicas) return false;
      }
      return true;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const primaryPort = async () => {
    for (const s of sentinels) {
      try {
        const addr = await command(s.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER);
        return Number((addr as string[])[1]);
      } catch {
        // that Sentinel is busy or gone: ask the next
      }
    }
    throw new Error("no Sentinel answers");
  };
  return {
    redisOptions: {
      sentinels: sentinels.map((s) => ({ host: "127.0.0.1", port: s.port })),
      name: MASTER,
    },
    servers,
    primaryPort,
    async promoted(port, timeoutMs) {
      let now = port;
      await until(timeoutMs, "Sentinel to promote a replica", async () => {
        now = await primaryPort();
        if (now === port) return false;
        // Promoted and answering as a primary.
        const role = await command(now, "ROLE") as unknown[];
        return role[0] === "master";
      }, 20);
      return now;
    },
    stop,
  };
}

/** Runs one command on a short-lived connection to 127.0.0.1:`port`. */
export async function command(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 5000,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

async function until(
  timeoutMs: number,
  what: string,
  ok: () => Promise<boolean>,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      if (await ok()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
