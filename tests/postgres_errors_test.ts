// The PostgreSQL error classifier, without a server: which SQLSTATEs and
// socket errors are transient, and that messages never carry the password.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendError, CheckpointExistsError } from "../mod.ts";
import { isTransientPg, mapPgError } from "../backends/_pg_errors.ts";

const pgError = (code: string, message = "failed") =>
  Object.assign(new Error(message), { code, severity: "ERROR" });

test("postgres: serialization failures, deadlocks, shutdowns and lost connections are transient", () => {
  for (
    const code of ["40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08006", "08001", "53300"]
  ) {
    assert.equal(isTransientPg(pgError(code)), true, code);
  }
  for (
    const message of [
      "connect ECONNREFUSED 127.0.0.1:1",
      "Connection terminated unexpectedly",
      "timeout expired",
    ]
  ) {
    assert.equal(isTransientPg(new Error(message)), true, message);
  }
});

test("postgres: auth, missing database, privileges and data errors are not transient", () => {
  for (const code of ["28P01", "28000", "3D000", "42501", "23505", "22P02", "42P01", "MSC01"]) {
    assert.equal(isTransientPg(pgError(code)), false, code);
  }
  assert.equal(isTransientPg(new Error("something else")), false);
});

test("postgres: mapped errors say what failed, where, and what to do, never the password", () => {
  const e = mapPgError(
    pgError("28P01", 'password authentication failed for user "app" (hunter22)'),
    'read keys of namespace "wf"',
    'PostgreSQL at "postgres://app:***@db:5432/x"',
    "hunter22",
  );
  assert.ok(e instanceof BackendError && !e.transient);
  assert.match(e.message, /^PostgreSQL could not read keys of namespace "wf" \(PostgreSQL at/);
  assert.match(e.message, /\[28P01\]\. Check the user name and password/);
  assert.doesNotMatch(e.message, /hunter22/);
  const missing = mapPgError(pgError("3D000", 'database "x" does not exist'), "x", "y", undefined);
  assert.match(missing.message, /createdb/);
  // Errors the library made already are passed through as they are.
  const own = new CheckpointExistsError("wf", "cp");
  assert.equal(mapPgError(own, "x", "y", undefined), own);
});
