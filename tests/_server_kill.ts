// The killed-server proof shared by the network backends: a writer saves and
// increments while the server is SIGKILLed and restarted; every acknowledged
// write must be there afterwards, every failure a fast transient BackendError,
// every write that failed without `outcomeUnknown` absent, and no increment
// applied twice.
import assert from "node:assert/strict";
import { BackendError, type StateManager } from "../mod.ts";

/** A server the test can kill and start again on the same port. */
export interface KillableServer {
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** How long each phase may take, and how often the writer checkpoints. */
export interface KillLimits {
  /** Ms to reach 200 acknowledged writes before the kill, and again after the restart. */
  beforeMs: number;
  afterMs: number;
  /** A failed write must fail within this many ms. */
  failMs: number;
  /** Take a checkpoint (overwriting one name per step) every this many writes; 0: never. */
  checkpointEvery: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `done()` holds, or fails naming `what` after `ms`. */
export async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Runs the writer through a kill and restart of `server`, then checks what survived. */
export async function writesSurviveKill(
  s: StateManager,
  server: KillableServer,
  limits: KillLimits,
): Promise<void> {
  const acked = new Map<string, number>();
  const notWritten: string[] = [];
  const failures: { error: unknown; ms: number }[] = [];
  let increments = 0;
  let unknownIncrements = 0;
  let stop = false;
  // "ok", "failed" (nothing written) or "unknown" (it may have been).
  const attempt = async (fn: () => Promise<unknown>) => {
    const start = Date.now();
    try {
      await fn();
      return "ok";
    } catch (error) {
      failures.push({ error, ms: Date.now() - start });
      return error instanceof BackendError && error.outcomeUnknown ? "unknown" : "failed";
    }
  };
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const saved = await attempt(() => s.save(`k${i}`, i));
      if (saved === "ok") acked.set(`k${i}`, i);
      else if (saved === "failed") notWritten.push(`k${i}`);
      const counted = await attempt(() => s.update<number>("counter", (n = 0) => n + 1));
      if (counted === "ok") increments++;
      else if (counted === "unknown") unknownIncrements++;
      if (limits.checkpointEvery > 0 && i % limits.checkpointEvery === 0) {
        await attempt(() => s.checkpoint(`cp-${i}`, { overwrite: true }));
      }
    }
  })();
  try {
    await until("writes before the kill", () => acked.size >= 200, limits.beforeMs);
    await server.kill();
    await sleep(300);
    await server.start();
    const before = acked.size;
    // The same manager works again once its client has reconnected.
    await until("writes after the restart", () => acked.size >= before + 200, limits.afterMs);
  } finally {
    stop = true;
    await writer;
  }
  assert.ok(failures.length > 0, "the kill should have failed some writes");
  for (const { error, ms } of failures) {
    assert.ok(error instanceof BackendError, String(error));
    assert.equal(error.transient, true, error.message);
    assert.ok(ms < limits.failMs, `a failed write took ${ms} ms`);
  }
  const stored = await s.loadMany([...acked.keys(), ...notWritten]);
  for (const [key, value] of acked) assert.equal(stored[key], value, `${key} was acknowledged`);
  for (const key of notWritten) assert.equal(stored[key], undefined, `${key} failed, yet landed`);
  // An increment whose reply was lost may have landed, but none lands twice.
  const counter = await s.load<number>("counter");
  assert.ok(counter >= increments, `counter ${counter} < ${increments} acknowledged`);
  assert.ok(
    counter <= increments + unknownIncrements,
    `counter ${counter} > ${increments} + ${unknownIncrements} of unknown outcome`,
  );
}
