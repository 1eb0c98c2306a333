// What the case files of the backend suite share.
import type { Backend } from "../types.ts";

/** Registers one case: `fn` gets a fresh, empty backend that is closed afterwards. */
export type Define = (behaviour: string, fn: (backend: Backend) => Promise<void>) => void;

/** Retries that settle fast, for managers in the suite. */
export const FAST_RETRY = { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 } as const;

/** A commit op with a fresh id that sets `values` (JSON text by key). */
export function setOp(
  values: Record<string, string>,
  checks: { key: string; version: string | null }[] = [],
) {
  const id = crypto.randomUUID();
  return {
    id,
    version: id,
    checks,
    sets: Object.entries(values).map(([key, value]) => ({ key, value, expiresAt: null })),
    deletes: [] as string[],
  };
}

/** A checkpoint request with a fresh id. */
export function checkpointRequest(name: string, overwrite = false) {
  return {
    name,
    createdAt: Date.now(),
    auto: false,
    metadata: {},
    overwrite,
    id: crypto.randomUUID(),
  };
}

/** A fresh request id. */
export const req = (): { id: string } => ({ id: crypto.randomUUID() });
