// incr, append and merge as StateManager.update() callbacks: read, change,
// commit with a version check, retried on conflict by update() itself, so
// they are atomic across processes on every backend. A callback that throws
// (a counter that is not a number) writes nothing.
//
// The CLI issue moves these verbs into the library; once they land there the
// tools call them instead of this file.
import { ValidationError } from "../errors.ts";
import type { StateManager } from "../state_manager.ts";
import type { JsonValue } from "../types.ts";
import { describe } from "../core/_validate.ts";

/** Adds `by` to the number at `key` (a missing key counts as 0); returns the new value. */
export function incr(
  state: StateManager,
  key: string,
  by: number,
  ttlMs?: number,
): Promise<number> {
  if (!Number.isFinite(by)) throw new ValidationError(`"by" must be a finite number`);
  return state.update<number>(key, (n) => {
    if (n === undefined) return by;
    if (typeof n !== "number") {
      throw new ValidationError(
        `Cannot increment key ${JSON.stringify(key)}: it holds ${describe(n)}, not a number`,
      );
    }
    return n + by;
  }, ttlMs === undefined ? {} : { ttlMs });
}

/** Pushes `items` onto the array at `key` (a missing key is `[]`); returns the new array. */
export function append(
  state: StateManager,
  key: string,
  items: JsonValue[],
  ttlMs?: number,
): Promise<JsonValue[]> {
  return state.update<JsonValue[]>(key, (list) => {
    if (list === undefined) return [...items];
    if (!Array.isArray(list)) {
      throw new ValidationError(
        `Cannot append to key ${JSON.stringify(key)}: it holds ${describe(list)}, not an array`,
      );
    }
    return [...list, ...items];
  }, ttlMs === undefined ? {} : { ttlMs });
}

/** Shallow-merges `patch` into the object at `key` (a missing key is `{}`); returns the result. */
export function merge(
  state: StateManager,
  key: string,
  patch: Record<string, JsonValue>,
  ttlMs?: number,
): Promise<Record<string, JsonValue>> {
  return state.update<Record<string, JsonValue>>(key, (current) => {
    if (current === undefined) return { ...patch };
    if (typeof current !== "object" || current === null || Array.isArray(current)) {
      throw new ValidationError(
        `Cannot merge into key ${JSON.stringify(key)}: it holds ${
          describe(current)
        }, not an object`,
      );
    }
    return { ...current, ...patch };
  }, ttlMs === undefined ? {} : { ttlMs });
}
