// Validation of StateManager's option objects.
import { ReadCache } from "./_cache.ts";
import { ValidationError } from "../errors.ts";
import type { OpenOptions } from "../options.ts";
import type { ListOptions } from "../types.ts";
import { validateKey } from "./_validate.ts";

/** Throws unless the open options are well-formed. */
export function validateOptions(options: OpenOptions): void {
  const cache = options.cache;
  if (cache !== undefined && typeof cache !== "boolean") {
    if (typeof cache !== "object" || cache === null) {
      throw new ValidationError("cache must be true, false or an object of cache options");
    }
    new ReadCache(cache); // throws on bad settings, before anything is opened
  }
  for (const name of ["keepCheckpoints", "maxCheckpointAgeMs", "maxUpdateAttempts"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ValidationError(`${name} must be a positive integer, got ${String(value)}`);
    }
  }
}

/** Throws unless the listing options are well-formed. */
export function validateListOptions(options: ListOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("listKeys() takes an options object");
  }
  if (options.prefix !== undefined && typeof options.prefix !== "string") {
    throw new ValidationError("listKeys() prefix must be a string");
  }
  if (options.cursor !== undefined) validateKey(options.cursor, "Cursor");
  if (
    options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)
  ) {
    throw new ValidationError(
      `listKeys() limit must be a positive integer, got ${String(options.limit)}`,
    );
  }
}
