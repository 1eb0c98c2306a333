// The fault-proxy test, shared by Redis and PostgreSQL: each of FAULT_PROCS
// processes (default 4) runs FAULT_OPS mixed operations (default 500: saves,
// update() increments, atomic three-key writes, checkpoints, restores,
// checkpoint deletes; a quarter of them without retries) through its own
// FaultProxy, which, about once every FAULT_EVERY operations (default 10),
// drops a connection after forwarding a request, resets it mid-request,
// stalls it past the client's timeout, or closes it and refuses reconnects
// for a while (tests/_fault_proxy.ts). FAULT_SEED fixes the schedules; it is
// printed on every run with the counts; FAULT_VERBOSE=1 lists the errors seen.
//
// The children check what they can see at once (tests/_fault_child.ts);
// then the server is read directly, not through a proxy: every acknowledged
// write is there, every write that failed without `outcomeUnknown` is not,
// every atomic group is all or nothing, every increment is counted once, and
// every checkpoint is where the acknowledgements say.
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type OpenOptions, StateManager } from "../mod.ts";
import type { FaultChildConfig, FaultChildReport } from "./_fault_child.ts";
import { runScript } from "./_runtime.ts";

const child = fileURLToPath(new URL("./_fault_child.ts", import.meta.url));
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PROCS = env("FAULT_PROCS", 4);
const OPS = env("FAULT_OPS", 500);
const EVERY = env("FAULT_EVERY", 10);
const SEED = env("FAULT_SEED", Math.floor(Math.random() * 2 ** 31));

/** A server the fault test started. */
export interface FaultServer {
  port: number;
  /** Options reaching the server directly, without a proxy. */
  direct: OpenOptions;
  stop(): Promise<void>;
}

// Client timeouts short enough that a stall becomes an error quickly.
const TIMEOUT_MS = { redis: 500, postgres: 600 };

/** Registers the fault-proxy test for `name`, against a server `start()` starts (or throws). */
export function testThroughFaultProxy(
  name: "redis" | "postgres",
  start: () => Promise<FaultServer>,
): void {
  test(`${name}: ${PROCS} processes x ${OPS} operations through a fault proxy lose nothing and count once`, async () => {
    // No server is a failure, never a skip.
    const server = await start();
    try {
      const started = Date.now();
      const results = await Promise.all(
        Array.from({ length: PROCS }, (_, p) => {
          const config: FaultChildConfig = {
            backend: name,
            port: server.port,
            proc: `p${p}`,
            ops: OPS,
            seed: SEED + p,
            faultEvery: EVERY,
            timeoutMs: TIMEOUT_MS[name],
            stallMs: TIMEOUT_MS[name] + 200,
          };
          return runScript(child, [JSON.stringify(config)], { timeoutMs: 240_000 });
        }),
      );
      const reports = results.map((r, p) => {
        assert.equal(r.code, 0, `child p${p} (seed ${SEED + p}): ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as FaultChildReport;
      });
      const sum = (f: (r: FaultChildReport) => number) => reports.reduce((n, r) => n + f(r), 0);
      const faults = sum((r) => Object.values(r.faults).reduce((a, b) => a + b, 0));
      console.log(
        `${name} (seed ${SEED}): ${sum((r) => r.ops)} operations, ${faults} faults injected ` +
          `(drop ${sum((r) => r.faults.drop)}, reset ${sum((r) => r.faults.reset)}, ` +
          `stall ${sum((r) => r.faults.stall)}, refuse ${sum((r) => r.faults.refuse)}), ${
            sum((r) => r.retries)
          } retries ` +
          `(${sum((r) => r.failedAttempts)} failed attempts), ${sum((r) => r.unknown)} ` +
          `unknown outcomes (${sum((r) => r.unknownApplied)} were increments that landed), ` +
          `${sum((r) => r.failed)} failed with nothing written; slowest operation ` +
          `${Math.max(...reports.map((r) => r.slowestMs))} ms; in ${Date.now() - started} ms`,
      );
      if (process.env.FAULT_VERBOSE) {
        const kinds: Record<string, number> = {};
        for (const r of reports) {
          for (const [k, n] of Object.entries(r.errors)) kinds[k] = (kinds[k] ?? 0) + n;
        }
        for (const [k, n] of Object.entries(kinds).sort((a, b) => b[1] - a[1])) {
          console.log(`${String(n).padStart(5)}  ${k}`);
        }
      }
      for (const r of reports) assert.deepEqual(r.violations, [], `${r.proc} saw violations`);
      // A stall is an error within the client's timeout (and the retries' 10 s), never a hang.
      const slowest = Math.max(...reports.map((r) => r.slowestMs));
      assert.ok(slowest < 20_000, `an operation took ${slowest} ms`);
      // About one fault per FAULT_EVERY operations reached the wire.
      assert.ok(faults >= (PROCS * OPS) / EVERY / 3, `only ${faults} faults were injected`);

      const s = await StateManager.open({ ...server.direct, namespace: "faults" });
      try {
        const count = await s.load<{ n: number; by: Record<string, number> }>("count");
        for (const r of reports) {
          const values = await s.loadMany([...r.saved, ...r.notSaved, ...r.maybeSaved]);
          for (const key of r.saved) assert.equal(values[key], Number(key.split("/")[2]), key);
          for (const key of r.notSaved) assert.equal(values[key], undefined, `${key} failed`);
          const groups = [...r.multi, ...r.notMulti, ...r.maybeMulti];
          const parts = await s.loadMany(
            groups.flatMap((g) => ["a", "b", "c"].map((x) => `${g}/${x}`)),
          );
          const present = (g: string) => ["a", "b", "c"].filter((x) => `${g}/${x}` in parts).length;
          for (const g of r.multi) assert.equal(present(g), 3, `${g} acknowledged`);
          for (const g of r.notMulti) assert.equal(present(g), 0, `${g} failed`);
          for (const g of r.maybeMulti) assert.ok([0, 3].includes(present(g)), `${g} is partial`);
          // Every acknowledged increment once, and unknown ones once or not at all.
          assert.equal(count.by[r.proc] ?? 0, r.counted, `${r.proc}'s increments`);
          assert.ok(r.counted >= r.increments && r.counted <= r.increments + r.unknown);

          const own = await StateManager.open({ ...server.direct, namespace: `faults-${r.proc}` });
          try {
            const names = new Set((await own.listCheckpoints()).map((c) => c.name));
            for (const cp of r.checkpoints) assert.ok(names.has(cp), `${r.proc} ${cp} is missing`);
            for (const cp of r.noCheckpoints) assert.ok(!names.has(cp), `${r.proc} ${cp} exists`);
            assert.equal(await own.load("gen"), r.gen, `${r.proc} gen`);
          } finally {
            await own.close();
          }
        }
        assert.equal(count.n, Object.values(count.by).reduce((a, b) => a + b, 0), "count.n");
      } finally {
        await s.close();
      }
    } finally {
      await server.stop();
    }
  });
}
