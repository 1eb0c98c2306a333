// Input validation shared by the manager and the backends. Everything is
// checked before anything is written, so a refused call changes nothing.
import { ValidationError } from "../errors.ts";
import type { JsonValue } from "../types.ts";

/** Longest namespace, in characters (it becomes a folder name and a Redis hash tag). */
export const MAX_NAMESPACE_LENGTH = 128;
/** Longest key or checkpoint name, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Longest checkpoint name, in UTF-8 bytes (it becomes part of a file name). */
export const MAX_CHECKPOINT_NAME_BYTES = 200;

const NAMESPACE_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const encoder = new TextEncoder();

/** UTF-8 length of a string. */
export function byteLength(text: string): number {
  // Fast path: ASCII-only strings are the common case.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

/** Throws unless `ns` is a safe namespace name. */
export function validateNamespace(ns: unknown): asserts ns is string {
  if (typeof ns !== "string") {
    throw new ValidationError(
      `Namespace must be a string, got ${describe(ns)}`,
    );
  }
  if (ns.length === 0) throw new ValidationError("Namespace must not be empty");
  if (ns.length > MAX_NAMESPACE_LENGTH) {
    throw new ValidationError(
      `Namespace is ${ns.length} characters; the limit is ${MAX_NAMESPACE_LENGTH}`,
    );
  }
  if (!NAMESPACE_RE.test(ns) || ns === "." || ns === "..") {
    throw new ValidationError(
      `Namespace ${
        JSON.stringify(ns)
      } is invalid: use letters, digits, ".", "_" and "-", starting with a letter, digit or "_"`,
    );
  }
}

/** Throws unless `key` is a valid key; `what` names it in the message. */
export function validateKey(
  key: unknown,
  what = "Key",
  maxBytes = MAX_KEY_BYTES,
): asserts key is string {
  if (typeof key !== "string") {
    throw new ValidationError(`${what} must be a string, got ${describe(key)}`);
  }
  if (key.length === 0) throw new ValidationError(`${what} must not be empty`);
  if (key.includes("\0")) {
    throw new ValidationError(
      `${what} ${JSON.stringify(key)} contains a NUL character`,
    );
  }
  const bytes = byteLength(key);
  if (bytes > maxBytes) {
    throw new ValidationError(
      `${what} is ${bytes} bytes; the limit is ${maxBytes} (UTF-8)`,
    );
  }
  if (!key.isWellFormed()) {
    throw new ValidationError(
      `${what} ${JSON.stringify(key)} contains a lone surrogate`,
    );
  }
}

/** Throws unless `name` is a valid checkpoint name. */
export function validateCheckpointName(name: unknown): asserts name is string {
  validateKey(name, "Checkpoint name", MAX_CHECKPOINT_NAME_BYTES);
}

/** Throws unless `ttlMs` is absent or a positive finite number of milliseconds. */
export function expiryFrom(ttlMs: unknown, now: number): number | null {
  if (ttlMs === undefined || ttlMs === null) return null;
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ValidationError(
      `ttlMs must be a positive number of milliseconds, got ${describe(ttlMs)}`,
    );
  }
  return now + Math.ceil(ttlMs);
}

/**
 * Validates `value` as a JSON value that survives a round trip unchanged and
 * returns its JSON text. The error names the path: `value.tasks[2].due is a Date`.
 */
export function encodeValue(value: unknown, path = "value"): string {
  // The fast check builds no paths; only a value it refuses (or one nested
  // deeper than it looks) takes the slow walk that names the culprit.
  if (!isJson(value, 0)) checkJson(value, path, new Set());
  return JSON.stringify(value);
}

/** Depth past which the fast check defers to the slow one (which detects cycles). */
const FAST_DEPTH = 64;

/** Whether `value` is certainly a faithful JSON value; false means "check slowly". */
function isJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return value.isWellFormed();
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= FAST_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isJson(value[i], depth + 1)) return false;
    }
    return Object.getPrototypeOf(value) === Array.prototype;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false;
    if (!isJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return Object.getOwnPropertySymbols(value).length === 0;
}

/** Validates a metadata object (a plain JSON object). */
export function validateMetadata(
  metadata: unknown,
): asserts metadata is Record<string, JsonValue> {
  if (!isPlainObject(metadata)) {
    throw new ValidationError(
      `metadata must be a plain JSON object, got ${describe(metadata)}`,
    );
  }
  checkJson(metadata, "metadata", new Set());
}

function checkJson(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) {
        throw new ValidationError(`${path} contains a lone surrogate`);
      }
      return;
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new ValidationError(
          `${path} is ${value}, which JSON cannot hold`,
        );
      }
      if (Object.is(value, -0)) {
        throw new ValidationError(`${path} is -0, which JSON turns into 0`);
      }
      return;
    case "object":
      break;
    default:
      throw new ValidationError(
        `${path} is ${describe(value)}, which JSON cannot hold`,
      );
  }
  if (value === null) return;
  if (seen.has(value)) {
    throw new ValidationError(`${path} is a circular reference`);
  }
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) {
        throw new ValidationError(`${path}[${i}] is an empty array slot`);
      }
      checkJson(value[i], `${path}[${i}]`, seen);
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      checkJson(value[key], `${path}${pathPart(key)}`, seen);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new ValidationError(`${path} has symbol keys, which JSON drops`);
    }
  } else {
    throw new ValidationError(
      `${path} is ${describe(value)}; only plain objects, arrays and primitives are JSON`,
    );
  }
  seen.delete(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return false;
  }
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function pathPart(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return "a BigInt";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "function") return "a function";
  if (typeof value === "object") {
    const name = Object.getPrototypeOf(value)?.constructor?.name;
    return Array.isArray(value) ? "an array" : `a ${name ?? "object"}`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}
