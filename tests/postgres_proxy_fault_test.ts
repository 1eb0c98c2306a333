// PostgreSQL through a fault proxy: see tests/_fault_run.ts. This test starts
// its own server; no server is a failure, never a skip.
import { testThroughFaultProxy } from "./_fault_run.ts";
import { startPgServer } from "./_pg_server.ts";

testThroughFaultProxy("postgres", async () => {
  const s = await startPgServer();
  return { port: s.port, direct: { backend: "postgres", url: s.url }, stop: () => s.stop() };
});
