// Namespace discovery for the Redis backend: SCAN (never KEYS) on every
// master, matching each namespace's index and checkpoint list.
import { compareKeys } from "../core/_keys.ts";
import { type IoRedisClient, isCluster } from "./_redis_connect.ts";
import { namespaceOf, namespacePattern, RedisLayout } from "./_redis_layout.ts";

/** Namespaces under `prefix` that hold live keys or checkpoints, in byte order. */
export async function scanNamespaces(client: IoRedisClient, prefix: string): Promise<string[]> {
  const nodes = isCluster(client) ? client.nodes("master") : [client];
  const pattern = namespacePattern(prefix);
  const found = new Map<string, boolean>(); // namespace -> has checkpoints
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      for (const key of keys) {
        const ns = namespaceOf(prefix, key);
        if (ns !== null) found.set(ns, found.get(ns) === true || key.endsWith("}:cps"));
      }
      cursor = next;
    } while (cursor !== "0");
  }
  // A namespace with only an index is listed if a key in it is still live.
  const now = Date.now();
  const live = await Promise.all([...found].map(async ([ns, hasCheckpoints]) => {
    if (hasCheckpoints) return true;
    const l = new RedisLayout(prefix, ns);
    const [all, expired] = await Promise.all([
      client.zcard(l.idx),
      client.zcount(l.ttl, "-inf", now),
    ]);
    return all > expired;
  }));
  return [...found.keys()].filter((_, i) => live[i]).sort(compareKeys);
}
