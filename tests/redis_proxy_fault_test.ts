// Redis through a fault proxy: see tests/_fault_run.ts. This test starts its
// own redis-server; no server is a failure, never a skip.
import { testThroughFaultProxy } from "./_fault_run.ts";
import { startRedisServer } from "./_redis_server.ts";

testThroughFaultProxy("redis", async () => {
  const s = await startRedisServer();
  return { port: s.port, direct: { backend: "redis", url: s.url }, stop: () => s.stop() };
});
