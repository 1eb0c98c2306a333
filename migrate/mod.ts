/**
 * {@linkcode migrate}: copy every namespace, key (with its TTL) and
 * checkpoint (with its metadata) from one backend to another, verified by
 * count and content hash. Also export to and import from a portable JSON
 * Lines file, and import the Python reference implementation's data.
 *
 * @example Move from JSON files to SQLite
 * ```ts
 * import { migrate, StateManager } from "../mod.ts";
 * import { MemoryBackend } from "../backends/memory.ts";
 * import assert from "node:assert/strict";
 *
 * const from = new MemoryBackend();
 * const to = new MemoryBackend();
 * await using state = await StateManager.open({ backend: from, namespace: "wf" });
 * await state.save("phase", "build");
 * await state.checkpoint("after_planning");
 * const report = await migrate({ from, to });
 * assert.equal(report.verified, true);
 * assert.equal(report.keys, 1);
 * ```
 *
 * @module
 */
export {
  type Endpoint,
  type ExportOptions,
  exportState,
  type ImportOptions,
  importState,
  type LegacyFileEndpoint,
  type LegacyRedisEndpoint,
  migrate,
  type MigrateOptions,
  type MigrationReport,
  type NamespaceReport,
  type ProgressEvent,
  VerificationError,
} from "./migrate.ts";
