// The Python reference implementation's writes, reproduced byte for byte for
// the legacy tests: json.dumps, and its RedisBackend's save() and checkpoint().
import type { Cluster, Redis } from "ioredis";

/** Python's json.dumps: ensure_ascii, ", " and ": " separators, or `indent` spaces per level. */
export function pyDumps(value: unknown, indent?: number, level = 0): string {
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const items = Array.isArray(value)
    ? value.map((v) => pyDumps(v, indent, level + 1))
    : Object.entries(value).map(([k, v]) => `${pyDumps(k)}: ${pyDumps(v, indent, level + 1)}`);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (items.length === 0) return open + close;
  if (indent === undefined) return open + items.join(", ") + close;
  const pad = " ".repeat(indent * (level + 1));
  return `${open}\n${pad}${items.join(`,\n${pad}`)}\n${" ".repeat(indent * level)}${close}`;
}

/** RedisBackend.save(): `SET state:<ns>:<key> json.dumps(value)`, then `EXPIRE ... 86400`. */
export async function pyRedisSave(
  client: Redis | Cluster,
  ns: string,
  key: string,
  value: unknown,
): Promise<void> {
  const redisKey = `state:${ns}:${key}`;
  await client.set(redisKey, pyDumps(value));
  await client.expire(redisKey, 86400);
}

/**
 * RedisBackend.checkpoint(): one JSON object of every key's current value
 * (`self.load(key)` for each of list_keys()), stored without an expiry.
 */
export async function pyRedisCheckpoint(
  client: Redis | Cluster,
  ns: string,
  name: string,
  values: Record<string, unknown>,
): Promise<void> {
  await client.set(`checkpoint:${ns}:${name}`, pyDumps(values));
}
