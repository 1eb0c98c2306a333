import { after } from "node:test";
import { testConcurrency } from "./_concurrency.ts";
import { deletePrefix, redisTarget, reportUnavailable } from "./_redis_server.ts";

const target = await redisTarget();
if (typeof target === "string") {
  reportUnavailable("redis concurrency", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;
  testConcurrency("redis", () => {
    const prefix = `msc-${crypto.randomUUID().slice(0, 8)}`;
    return {
      options: { backend: "redis", url, prefix, namespace: "race" },
      cleanup: () => deletePrefix(url, prefix),
    };
  });
}
