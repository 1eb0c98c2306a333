// The Redis backend through Sentinel (ioredis `sentinels` + `name` options):
// the conformance suite against a master found by asking a Sentinel.
import { after } from "node:test";
import { StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";
import {
  deletePrefix,
  type RedisSentinel,
  reportUnavailable,
  startRedisSentinel,
} from "./_redis_server.ts";

let sentinel: RedisSentinel | string;
try {
  sentinel = await startRedisSentinel();
} catch (error) {
  sentinel = (error as Error).message;
}

if (typeof sentinel === "string") {
  reportUnavailable("redis-sentinel", sentinel);
} else {
  const { redisOptions, master, stop } = sentinel;
  after(stop);
  await testBackend("redis-sentinel", () => {
    const prefix = `mss-${crypto.randomUUID().slice(0, 8)}`;
    const base = { backend: "redis", prefix, redisOptions } as const;
    return Promise.resolve({
      open: (options = {}) => StateManager.open({ ...options, ...base }),
      childOptions: base,
      cleanup: () => deletePrefix(master.url, prefix),
    });
  });
}
