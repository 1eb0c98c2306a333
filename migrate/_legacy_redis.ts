// A source for the Python reference implementation's Redis data (the legacy
// layout of the seed spec's RedisBackend): live keys
// `state:<namespace>:<key>` holding json.dumps(value), each with the 24-hour
// expiry its save() set, and checkpoints `checkpoint:<namespace>:<name>`
// holding one JSON object of every key's value. Keys are found with SCAN on
// every master and read with GET + PEXPIRETIME, per page one MULTI on a
// standalone server (value and expiry seen together) and one pipeline per
// Cluster master (a transaction cannot span slots). Nothing is written.
import { newVersion } from "../core/_ids.ts";
import { compareKeys } from "../core/_keys.ts";
import {
  encodeValue,
  validateCheckpointName,
  validateKey,
  validateNamespace,
} from "../core/_validate.ts";
import { StateDamagedError, StateError, ValidationError } from "../errors.ts";
import {
  Connection,
  glob,
  type Item,
  readItems,
  type RedisLocation,
  scan,
} from "./_legacy_redis_client.ts";
import { PAGE, type Source, type SourceCheckpoint, type SourceNamespace } from "./_source.ts";
import type { StoredEntry } from "../types.ts";

/** Where the reference's Redis data is, and how to read it. */
export interface LegacyRedisOptions extends RedisLocation {
  /** Copy each key's remaining expiry instead of dropping it. Default false. */
  keepTtl?: boolean;
  /** The reference's namespace names to read (they may contain ":"); default: all, found by SCAN. */
  namespaces?: string[];
}

interface Found {
  /** The name in the reference. */
  legacy: string;
  keys: Map<string, Item>;
  checkpoints: Map<string, Item>;
}

/**
 * The target namespace for a legacy namespace: the same name when it is
 * valid here, else with each ":" (which Redis users put in names, and ours
 * refuse) turned into ".".
 */
export function targetNamespace(legacy: unknown): string {
  if (typeof legacy !== "string") {
    throw new ValidationError(`namespaces must be strings, got ${typeof legacy}`);
  }
  const name = legacy.replaceAll(":", ".");
  try {
    validateNamespace(name);
  } catch (error) {
    const mapped = name === legacy ? "" : ` (as ${JSON.stringify(name)})`;
    throw new ValidationError(
      `The legacy namespace ${JSON.stringify(legacy)} cannot be migrated${mapped}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  return name;
}

/** Opens a reader of the reference's Redis layout. */
export async function legacyRedisSource(options: LegacyRedisOptions): Promise<Source> {
  const names = options.namespaces;
  if (names !== undefined) {
    if (!Array.isArray(names)) throw new ValidationError("namespaces must be an array of names");
    const seen = new Map<string, string>();
    for (const legacy of names) {
      const name = targetNamespace(legacy);
      const other = seen.get(name);
      if (other !== undefined && other !== legacy) {
        throw new ValidationError(
          `The legacy namespaces ${JSON.stringify(other)} and ${
            JSON.stringify(legacy)
          } would both become ${
            JSON.stringify(name)
          }: migrate them one at a time, into different targets`,
        );
      }
      seen.set(name, legacy);
    }
  }
  const { keepTtl: _k, namespaces: _n, ...location } = options;
  const conn = await Connection.open(location);
  return {
    name: "legacy-redis",
    close: () => conn.close(),
    async *namespaces() {
      const found = await discover(conn, names);
      for (const [name, f] of [...found].sort((a, b) => compareKeys(a[0], b[0]))) {
        yield namespaceOf(conn, name, f, options.keepTtl === true);
      }
    },
  };
}

/** Finds every namespace's keys and checkpoints (or only those of `names`) on every master. */
async function discover(
  conn: Connection,
  names: string[] | undefined,
): Promise<Map<string, Found>> {
  const found = new Map<string, Found>();
  const entry = (legacy: string): Found => {
    const name = targetNamespace(legacy);
    let f = found.get(name);
    if (!f) found.set(name, f = { legacy, keys: new Map(), checkpoints: new Map() });
    return f;
  };
  for (const legacy of names ?? []) entry(legacy);
  await conn.run("list the legacy keys", async (client) => {
    for (const node of conn.masters(client)) {
      for (const kind of ["state", "checkpoint"] as const) {
        const patterns = names === undefined
          ? [`${kind}:*`]
          : names.map((n) => `${kind}:${glob(n)}:*`);
        for (const [i, pattern] of patterns.entries()) {
          // SCAN may return a key twice; the maps keep one.
          for (const redisKey of await scan(node, pattern)) {
            if (names !== undefined && longerName(names, i, kind, redisKey)) continue;
            const [legacy, name] = names === undefined
              ? split(redisKey, kind)
              : [names[i]!, redisKey.slice(`${kind}:${names[i]}:`.length)];
            const f = entry(legacy);
            if (kind === "state") {
              named(redisKey, () => validateKey(name));
              f.keys.set(name, { name, redisKey, node });
            } else {
              named(redisKey, () => validateCheckpointName(name));
              f.checkpoints.set(name, { name, redisKey, node });
            }
          }
        }
      }
    }
  });
  return found;
}

/** Whether another given name longer than names[i] also holds `redisKey` (it gets the key). */
function longerName(names: string[], i: number, kind: string, redisKey: string): boolean {
  const own = names[i]!;
  return names.some((n) =>
    n.length > own.length && n.startsWith(`${own}:`) && redisKey.startsWith(`${kind}:${n}:`)
  );
}

/** `state:<ns>:<key>` -> [ns, key]; without names given, the namespace ends at the first ":". */
function split(redisKey: string, kind: string): [string, string] {
  const rest = redisKey.slice(kind.length + 1);
  const colon = rest.indexOf(":");
  if (colon < 1) {
    throw new ValidationError(
      `Redis key ${JSON.stringify(redisKey)} does not fit the legacy layout ` +
        `(${kind}:<namespace>:<name>): name the namespaces to migrate with --namespace`,
    );
  }
  const legacy = rest.slice(0, colon);
  named(redisKey, () => targetNamespace(legacy));
  return [legacy, rest.slice(colon + 1)];
}

/** Runs `check`, naming the Redis key in a validation failure. */
function named<T>(redisKey: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(
      `Redis key ${JSON.stringify(redisKey)} cannot be migrated: ${error.message}`,
      { cause: error },
    );
  }
}

/** Parses a stored JSON text, naming the Redis key when it is not a JSON value we can hold. */
function parse(redisKey: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StateDamagedError(
      `Redis key ${JSON.stringify(redisKey)} does not hold JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function encode(redisKey: string, value: unknown, path = "value"): string {
  try {
    return encodeValue(value, path);
  } catch (error) {
    if (!(error instanceof StateError)) throw error;
    throw new StateDamagedError(
      `Redis key ${JSON.stringify(redisKey)} cannot be migrated: ${error.message}`,
      { cause: error },
    );
  }
}

/** Python's auto-named checkpoints carry their UTC time (auto_%Y%m%d_%H%M%S); others 0. */
function autoTime(name: string): number {
  const iso = name.replace(
    /^auto_(\d{4})(\d\d)(\d\d)_(\d\d)(\d\d)(\d\d)$/,
    "$1-$2-$3T$4:$5:$6Z",
  );
  const t = iso === name ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? t : 0;
}

function namespaceOf(conn: Connection, name: string, f: Found, keepTtl: boolean): SourceNamespace {
  const items = [...f.keys.values()].sort((a, b) => compareKeys(a.name, b.name));
  const expired: string[] = [];
  let ttlsDropped = 0;
  return {
    name,
    ...(f.legacy === name ? {} : { sourceName: f.legacy }),
    keyCount: items.length,
    async *pages() {
      for (let i = 0; i < items.length; i += PAGE) {
        const page = items.slice(i, i + PAGE);
        const read = await readItems(conn, page);
        const entries: StoredEntry[] = [];
        read.forEach((r, j) => {
          const item = page[j]!;
          if (r === null) return void expired.push(item.name);
          if (r.expiresAt !== null && !keepTtl) ttlsDropped++;
          entries.push({
            key: item.name,
            value: encode(item.redisKey, parse(item.redisKey, r.text)),
            version: newVersion(),
            expiresAt: keepTtl ? r.expiresAt : null,
          });
        });
        if (entries.length) yield entries;
      }
    },
    notes: () => ({ expired, ttlsDropped }),
    async *checkpoints() {
      const cps = [...f.checkpoints.values()].sort((a, b) => compareKeys(a.name, b.name));
      for (const item of cps) {
        const [r] = await readItems(conn, [item]);
        if (!r) continue; // deleted since it was listed: the reference never expires checkpoints
        const dict = parse(item.redisKey, r.text);
        if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
          throw new StateDamagedError(
            `Redis key ${JSON.stringify(item.redisKey)} is not a checkpoint: ` +
              "the legacy layout holds one JSON object of keys and values",
          );
        }
        const entries = Object.entries(dict).map(([key, value]): StoredEntry => {
          named(item.redisKey, () => validateKey(key));
          return {
            key,
            value: encode(item.redisKey, value, `value[${JSON.stringify(key)}]`),
            version: newVersion(),
            expiresAt: null,
          };
        }).sort((a, b) => compareKeys(a.key, b.key));
        yield {
          info: {
            name: item.name,
            // The reference kept no creation time; auto_ names carry one.
            createdAt: autoTime(item.name),
            auto: item.name.startsWith("auto_"),
            metadata: { importedFrom: "legacy-redis" },
            parent: null,
            keyCount: entries.length,
            bytes: 0,
          },
          entries,
        } satisfies SourceCheckpoint;
      }
    },
  };
}
