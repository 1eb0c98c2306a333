/**
 * managing-state: workflow state that survives crashes. Save and load JSON
 * values in a namespace, update them safely from many processes, take named
 * checkpoints and restore them, on memory, JSON files, SQLite, Redis or
 * Deno KV (each backend module loads only when it is opened; the backend
 * classes have their own subpath exports).
 *
 * @example
 * ```ts
 * import { StateManager } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using state = await StateManager.open({ backend: "memory", namespace: "workflow-123" });
 * await state.save("current_phase", "building");
 * assert.equal(await state.load("current_phase"), "building");
 * assert.equal(await state.load("missing", 0), 0);
 * const name = await state.checkpoint();
 * assert.match(name, /^auto-/);
 * ```
 *
 * @module
 */
export { StateManager } from "./state_manager.ts";
export type {
  CheckpointDiff,
  CheckpointOptions,
  ClaimOptions,
  Entry,
  Lease,
  ManagerOptions,
  OpenOptions,
  ReadOptions,
  RestoreCheckpointOptions,
  SaveOptions,
  Status,
  UpdateOptions,
  UpdateResult,
  ValueDiff,
  WriteConditions,
} from "./options.ts";
export { AtomicOperation } from "./atomic.ts";
export { StepWriter } from "./core/_step_writer.ts";
export {
  type LeaseOptions,
  type PhaseOptions,
  RESERVED_PREFIX,
  type ResetStepOptions,
  type StepInfo,
  type StepOptions,
} from "./core/_step_records.ts";
export * from "./errors.ts";
export type * from "./types.ts";
export { REQUEST_WINDOW } from "./types.ts";
export type { CacheOptions } from "./core/_cache.ts";
export type { ChangeEvent, Watcher, WatchOptions, WatchTarget } from "./core/_watch.ts";
export type { RetryOptions } from "./core/_retry.ts";
export {
  BACKEND_NAMES,
  type BackendLocation,
  type BackendLocations,
  type BackendName,
  type BackendOptions,
  type Exclusive,
  type JsonLocation,
  type KvLocation,
  type LocationKey,
  type NamedBackendOptions,
  type PostgresLocation,
  type RedisLocation,
  type SqliteLocation,
} from "./backends/_locations.ts";
export { DEFAULT_DIR } from "./backends/_open.ts";
export { MemoryBackend } from "./backends/memory.ts";
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
} from "./migrate/mod.ts";
