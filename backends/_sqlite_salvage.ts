// Reading what a damaged SQLite database still yields, through SQLite itself.
// A table's keys are scanned in order; where a damaged page stops the scan,
// probes seek past it (the seek follows intact interior pages) and a scan
// backwards from there recovers the rows up to the damage, so one bad page
// loses only its own rows. The same runs over the table's name index (a
// second copy of every key, in its own pages), so a key whose row is lost
// is still named. Rows are then read one by one by key.
import type { SqliteDatabase, SqliteParam, SqliteStatement } from "./_sqlite_driver.ts";

/** A primary key's values, in key order. */
export type Key = SqliteParam[];

/** Keys that could not be read lie strictly between `after` and `before` (null: the table's start or end). */
export interface Gap {
  after: Key | null;
  before: Key | null;
}

/** The keys one scan could read, and where it could not. */
export interface KeyScan {
  keys: Key[];
  gaps: Gap[];
}

/** Orders keys as SQLite's BINARY collation does (UTF-8 bytes, i.e. code points). */
export function compareKey(a: Key, b: Key): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    if (x === null || y === null) return x === null ? -1 : 1;
    if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1; // numbers sort before text
    return compareText(x as string, y as string);
  }
  return a.length - b.length;
}

function compareText(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
  }
  return x.length - y.length;
}

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Keys read per query while scanning; halved down to one near damage. */
const CHUNK = 256;

/**
 * SQL over one b-tree of a table: the table itself (its primary key) or an
 * index on the key. Reads in pages with `.all()`, which reports damage as an
 * error (`.iterate()` of Deno's node:sqlite ends quietly instead).
 */
export class Btree {
  readonly #db: SqliteDatabase;
  readonly #select: string;
  readonly #tuple: string;
  readonly #params: string;
  readonly #asc: string;
  readonly #desc: string;
  readonly #statements = new Map<string, SqliteStatement>();

  /** `index` names the b-tree: the table's primary-key index, or its name index. */
  constructor(db: SqliteDatabase, table: string, pk: string[], index: string) {
    this.#db = db;
    const cols = pk.map(q).join(", ");
    this.#select = `SELECT ${cols} FROM ${q(table)} INDEXED BY ${q(index)}`;
    this.#tuple = `(${cols})`;
    this.#params = `(${pk.map(() => "?").join(", ")})`;
    this.#asc = pk.map(q).join(", ");
    this.#desc = pk.map((c) => `${q(c)} DESC`).join(", ");
  }

  /** Up to `limit` keys after (or before, `desc`) `key` by `op`; throws on damage. */
  #page(op: "" | ">" | ">=" | "<", key: Key | null, limit: number, desc: boolean): Key[] {
    const id = `${op}${desc}`;
    let stmt = this.#statements.get(id);
    if (!stmt) {
      const where = op === "" ? "" : ` WHERE ${this.#tuple} ${op} ${this.#params}`;
      stmt = this.#db.prepare(
        `${this.#select}${where} ORDER BY ${desc ? this.#desc : this.#asc} LIMIT ?`,
      );
      this.#statements.set(id, stmt);
    }
    const rows = stmt.all(...(key ?? []), limit) as Record<string, SqliteParam>[];
    return rows.map((r) => Object.values(r));
  }

  /**
   * Keys from `from` on (or down from it, `desc`) until the end, `stop`, or
   * damage; near damage the page size halves, so every readable key before
   * it is read.
   */
  #walk(from: Key | null, first: ">" | ">=" | "<", desc: boolean, stop: (k: Key) => boolean) {
    const keys: Key[] = [];
    let cursor = from;
    let op: "" | ">" | ">=" | "<" = from === null ? "" : first;
    let limit = CHUNK;
    for (;;) {
      let page: Key[];
      try {
        page = this.#page(op, cursor, limit, desc);
      } catch {
        if (limit === 1) return { keys, failed: true };
        limit = Math.max(1, limit >> 1);
        continue;
      }
      for (const k of page) {
        if (stop(k)) return { keys, failed: false };
        // A damaged tree can hand back keys out of order (a page linked twice):
        // that is damage, not progress, or the walk would go round forever.
        const last = keys.at(-1) ?? cursor;
        if (last !== null && (desc ? compareKey(k, last) >= 0 : compareKey(k, last) <= 0)) {
          if (!(op === ">=" && keys.length === 0 && compareKey(k, last) === 0)) {
            return { keys, failed: true };
          }
        }
        keys.push(k);
      }
      if (page.length < limit) return { keys, failed: false };
      cursor = page.at(-1)!;
      op = desc ? "<" : ">";
    }
  }

  /** Keys in order from `from` (`>=` when inclusive, else `>`), until the end or damage. */
  ascend(from: Key | null, inclusive: boolean): { keys: Key[]; failed: boolean } {
    return this.#walk(from, inclusive ? ">=" : ">", false, () => false);
  }

  /** The first key at or after `at`: undefined when there is none, null when it cannot be read. */
  first(at: Key): Key | undefined | null {
    try {
      return this.#page(">=", at, 1, false)[0];
    } catch {
      return null;
    }
  }

  /** Keys in reverse order below `before` (all when null), down to `floor` (exclusive), until damage. */
  descend(before: Key | null, floor: Key | null): { keys: Key[]; failed: boolean } {
    return this.#walk(before, "<", true, (k) => floor !== null && compareKey(k, floor) <= 0);
  }
}

/** Seek points past `key` with growing jumps: the next key at each position, from the last. */
function* probes(key: Key): Generator<Key> {
  for (let i = key.length - 1; i >= 0; i--) {
    const v = key[i];
    const head = key.slice(0, i);
    const tail = key.slice(i + 1).map(() => "");
    if (typeof v === "number") {
      for (const jump of [1, 1e3, 1e6, 1e9, 1e12]) yield [...head, v + jump, ...tail];
    } else if (typeof v === "string") {
      const chars = Array.from(v);
      for (let j = chars.length - 1; j >= 0; j--) {
        let c = chars[j]!.codePointAt(0)! + 1;
        if (c === 0xd800) c = 0xe000; // skip the surrogate range
        if (c > 0x10ffff) continue;
        yield [...head, chars.slice(0, j).join("") + String.fromCodePoint(c), ...tail];
      }
    }
  }
}

/**
 * Every key of one b-tree that can be read, and the gaps where pages could
 * not be. `hints` (keys read from another copy, sorted) are tried first as
 * places to resume after damage. Never throws for damage: a b-tree that
 * cannot be read at all is one gap over everything.
 */
export function scanKeys(tree: Btree, hints: Key[] = []): KeyScan {
  const keys: Key[] = [];
  const gaps: Gap[] = [];
  let from: Key | null = null;
  let inclusive = false;
  for (;;) {
    const run = tree.ascend(from, inclusive);
    keys.push(...run.keys);
    if (!run.failed) break;
    const last: Key | null = run.keys.at(-1) ?? (inclusive ? lastBefore(keys, from) : from);
    // Seek past the damage: the first candidate that reads a row is where to resume.
    let resume: Key | null = null;
    let empty = false; // nothing at or after `resume`
    for (const p of candidates(tree, last, hints)) {
      const r = tree.first(p);
      if (r !== null) {
        resume = r ?? p;
        empty = r === undefined;
        break;
      }
    }
    if (resume !== null && from !== null && compareKey(resume, from) <= 0) resume = null;
    // Backwards from there (or from the end) recovers the keys up to the damage.
    const back = tree.descend(resume, last);
    keys.push(...back.keys);
    if (back.failed) gaps.push({ after: last, before: back.keys.at(-1) ?? resume });
    if (resume === null || empty) break;
    from = resume;
    inclusive = true;
  }
  const unique = new Map(keys.map((k) => [JSON.stringify(k), k]));
  return { keys: [...unique.values()].sort(compareKey), gaps };
}

/**
 * Seek candidates past `last`: a key known from elsewhere just past the
 * damage (found by bisection: seeks fail inside a damaged region and work
 * after it), then growing jumps.
 */
function* candidates(tree: Btree, last: Key | null, hints: Key[]): Generator<Key> {
  let lo = last === null ? 0 : hints.findIndex((h) => compareKey(h, last) > 0);
  if (lo !== -1) {
    let hi = hints.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tree.first(hints[mid]!) === null) lo = mid + 1;
      else hi = mid;
    }
    if (lo < hints.length) yield hints[lo]!;
  }
  if (last !== null) yield* probes(last);
}

/** The greatest key read before `key` (the lower bound of a gap that starts at a resume point). */
function lastBefore(keys: Key[], key: Key | null): Key | null {
  if (key === null) return null;
  let best: Key | null = null;
  for (const k of keys) if (compareKey(k, key) < 0 && (!best || compareKey(k, best) > 0)) best = k;
  return best;
}

/** Whether `key` lies inside one of `gaps`. */
export function inGaps(key: Key, gaps: Gap[]): boolean {
  return gaps.some((g) =>
    (g.after === null || compareKey(key, g.after) > 0) &&
    (g.before === null || compareKey(key, g.before) < 0)
  );
}

/** The ranges covered by a gap of both lists: keys there may be lost with every copy of their name. */
export function intersectGaps(a: Gap[], b: Gap[]): Gap[] {
  const out: Gap[] = [];
  const max = (x: Key | null, y: Key | null) =>
    x === null ? y : y === null ? x : compareKey(x, y) >= 0 ? x : y;
  const min = (x: Key | null, y: Key | null) =>
    x === null ? y : y === null ? x : compareKey(x, y) <= 0 ? x : y;
  for (const g of a) {
    for (const h of b) {
      const after = max(g.after, h.after);
      const before = min(g.before, h.before);
      if (after === null || before === null || compareKey(after, before) < 0) {
        out.push({ after, before });
      }
    }
  }
  return out;
}
