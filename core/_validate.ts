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
/** Largest value (or checkpoint metadata), as JSON text in UTF-8 bytes: 16 MiB. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of arrays and objects in a value (a bare number or string is depth 0). */
export const MAX_DEPTH = 1000;

const NAMESPACE_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Any character outside ASCII (a native scan, much faster than a loop over the characters). */
// deno-lint-ignore no-control-regex -- the range starts at U+0000 on purpose: all of ASCII
const NON_ASCII = /[^\u0000-\u007f]/;

/** UTF-8 length of a string (a lone surrogate counts as the 3 bytes of U+FFFD), without encoding it. */
export function byteLength(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2; // a pair: 4 bytes for 2 units
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
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
 * Values nested deeper than {@linkcode MAX_DEPTH} or larger than
 * {@linkcode MAX_VALUE_BYTES} are refused too.
 */
export function encodeValue(value: unknown, path = "value"): string {
  // The fast check builds no paths; only a value it refuses (or one nested
  // deeper than it looks) takes the slow walk that names the culprit.
  if (!isJson(value, 0)) checkJson(value, path, new Set(), 0);
  const text = JSON.stringify(value);
  checkSize(text, path);
  return text;
}

/** Throws unless `text` (JSON) fits in {@linkcode MAX_VALUE_BYTES}. */
function checkSize(text: string, path: string): void {
  // UTF-8 takes 1 to 3 bytes per UTF-16 unit: count bytes only when it could matter.
  if (text.length * 3 <= MAX_VALUE_BYTES) return;
  const bytes = byteLength(text);
  if (bytes > MAX_VALUE_BYTES) {
    throw new ValidationError(
      `${path} is ${bytes} bytes as JSON; the limit is ${MAX_VALUE_BYTES} (16 MiB): ` +
        `keep large data in files and save their paths`,
    );
  }
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
  checkJson(metadata, "metadata", new Set(), 0);
  checkSize(JSON.stringify(metadata), "metadata");
}

function checkJson(value: unknown, path: string, seen: Set<object>, depth: number): void {
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
  // Checked before going deeper, so a deep value is an error, never a stack overflow.
  if (depth >= MAX_DEPTH) {
    throw new ValidationError(
      `${shortPath(path)} is nested more than ${MAX_DEPTH} levels deep; the limit is ${MAX_DEPTH}`,
    );
  }
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) {
        throw new ValidationError(`${path}[${i}] is an empty array slot`);
      }
      checkJson(value[i], `${path}[${i}]`, seen, depth + 1);
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      checkJson(value[key], `${path}${pathPart(key)}`, seen, depth + 1);
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

/** A path of a deep value, cut short for messages. */
function shortPath(path: string): string {
  return path.length > 80 ? `${path.slice(0, 40)}...${path.slice(-30)}` : path;
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
