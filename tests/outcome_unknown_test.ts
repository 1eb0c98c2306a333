// BackendError.outcomeUnknown: which failures may have been applied. The
// classifiers say so for a lost or timed-out reply and not for a refused
// connection or a server's refusal; the manager keeps it when a later retry
// fails before reaching the backend. (tests/*_proxy_fault_test.ts check the
// same against real servers through a fault proxy.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendError, MemoryBackend, StateManager } from "../mod.ts";
import { EventEmitter } from "node:events";
import { mapRedisError } from "../backends/_errors_redis.ts";
import { type IoRedisClient, ReadyGate } from "../backends/_redis_connect.ts";
import { mapPgError } from "../backends/_pg_errors.ts";
import { beforeSending } from "../backends/_pg_pool.ts";
import { errorResult } from "../mcp/_errors.ts";
import type { CommitOp, CommitResult } from "../types.ts";

/** A memory backend whose commits fail as scripted: "applied" lands first, "lost" does not. */
class ScriptedBackend extends MemoryBackend {
  script: { applied: boolean; unknown: boolean }[] = [];

  override async commit(ns: string, op: CommitOp): Promise<CommitResult> {
    const step = this.script.shift();
    if (!step) return await super.commit(ns, op);
    if (step.applied) await super.commit(ns, op);
    throw new BackendError("connection lost", { transient: true, outcomeUnknown: step.unknown });
  }
}

const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
const isUnknown = (expected: boolean) => (e: unknown) =>
  e instanceof BackendError && e.transient && e.outcomeUnknown === expected;

test("manager: a write whose reply was lost, then retries that never arrived, fails as outcomeUnknown", async () => {
  const backend = new ScriptedBackend();
  await using s = await StateManager.open({ backend, retry: fast });
  backend.script = [
    { applied: true, unknown: true },
    { applied: false, unknown: false },
    { applied: false, unknown: false },
  ];
  await assert.rejects(s.save("k", 1), (e: unknown) => {
    assert.ok(isUnknown(true)(e), String(e));
    assert.match((e as Error).message, /may have been applied/);
    assert.ok((e as Error).cause instanceof BackendError);
    return true;
  });
  assert.equal(await s.load("k"), 1, "it had landed");
});

test("manager: a write whose every attempt failed before arriving is known not written", async () => {
  const backend = new ScriptedBackend();
  await using s = await StateManager.open({ backend, retry: fast });
  backend.script = Array.from({ length: 3 }, () => ({ applied: false, unknown: false }));
  await assert.rejects(s.save("k", 1), isUnknown(false));
  assert.equal(await s.load("k", null), null);
  // Without retries the backend's own answer reaches the caller as it is.
  await using once = await StateManager.open({ backend, retry: false });
  backend.script = [{ applied: true, unknown: true }];
  await assert.rejects(once.save("k", 2), isUnknown(true));
  assert.equal(await once.load("k"), 2);
});

test("redis: a lost or timed-out reply is outcomeUnknown; refused, unsent and server refusals are not", () => {
  const map = (message: string, sent: boolean) =>
    mapRedisError(new Error(message), "save", "Redis at x", undefined, undefined, sent);
  for (const message of ["Connection is closed.", "Command timed out", "read ECONNRESET"]) {
    assert.ok(isUnknown(true)(map(message, true)), message);
    assert.ok(isUnknown(false)(map(message, false)), `${message}, before sending`);
  }
  for (
    const message of [
      "connect ECONNREFUSED 127.0.0.1:1",
      "Stream isn't writeable and enableOfflineQueue options is false",
      "LOADING Redis is loading the dataset in memory",
      "BUSY Redis is busy running a script",
    ]
  ) {
    assert.ok(isUnknown(false)(map(message, true)), message);
  }
  assert.equal((map("ERR syntax error", true) as BackendError).outcomeUnknown, false);
});

test("postgres: a lost or timed-out reply is outcomeUnknown; no connection and refusals are not", () => {
  const pgError = (code: string) => Object.assign(new Error("failed"), { code, severity: "ERROR" });
  const map = (error: unknown) => mapPgError(error, "save", "PostgreSQL at x", undefined);
  for (
    const error of [
      new Error("Connection terminated unexpectedly"),
      new Error("Query read timeout"),
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      pgError("57P01"),
      pgError("08006"),
    ]
  ) {
    assert.ok(isUnknown(true)(map(error)), error.message + (error as { code?: string }).code);
  }
  const unsent = new Error("Connection terminated unexpectedly");
  beforeSending.add(unsent);
  for (
    const error of [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      new Error("timeout expired"),
      unsent,
      pgError("40001"),
      pgError("40P01"),
      pgError("53300"),
      pgError("57P03"),
    ]
  ) {
    assert.ok(isUnknown(false)(map(error)), error.message + (error as { code?: string }).code);
  }
  assert.equal((map(pgError("23505")) as BackendError).outcomeUnknown, false);
});

test("redis: a connection error from before a reconnect does not describe a later lost reply", async () => {
  const client = Object.assign(new EventEmitter(), { status: "connecting" });
  const gate = new ReadyGate(client as unknown as IoRedisClient, 1000);
  const waiting = gate.ready();
  const refused = new Error("write EPIPE");
  client.emit("error", refused);
  await assert.rejects(waiting, refused);
  assert.equal(gate.lastError, refused);
  // ioredis reconnects by itself; commands then skip the gate.
  client.status = "ready";
  client.emit("ready");
  assert.equal(gate.lastError, undefined);
  const e = mapRedisError(
    new Error("Connection is closed."),
    "save",
    "Redis at x",
    undefined,
    gate.lastError,
    true,
  );
  assert.doesNotMatch(e.message, /EPIPE/);
  assert.ok(isUnknown(true)(e), e.message);
});

test("mcp: a write of unknown outcome tells the agent to load before calling again", () => {
  const text = (e: BackendError) => errorResult(e).content[0]!.text;
  const lost = new BackendError("Redis could not write", { transient: true, outcomeUnknown: true });
  assert.match(text(lost), /^BACKEND: .*Hint: the write may have been applied .*call "load"/);
  const refused = new BackendError("Redis could not write", { transient: true });
  assert.match(text(refused), /Hint: a transient fault .*: call again$/);
});
