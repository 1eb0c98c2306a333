// Value encoding, property-based: any JSON value saves and loads back equal;
// a value holding anything JSON would change or drop, anywhere in it, is
// refused with a ValidationError that names its path, and nothing is written.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBackend, StateManager, ValidationError } from "../mod.ts";
import { checkProperty, fc } from "./_property.ts";

/** What JSON cannot hold faithfully, and how the error describes it after the path. */
const CANNOT = ", which JSON cannot hold";
const NOT_PLAIN = "; only plain objects, arrays and primitives are JSON";
const BAD: { make: (container: object | undefined) => unknown; says: string }[] = [
  { make: () => undefined, says: ` is undefined${CANNOT}` },
  { make: () => () => 1, says: ` is a function${CANNOT}` },
  { make: () => Symbol("s"), says: ` is a symbol${CANNOT}` },
  { make: () => BigInt(10), says: ` is a BigInt${CANNOT}` },
  { make: () => NaN, says: ` is NaN${CANNOT}` },
  { make: () => Infinity, says: ` is Infinity${CANNOT}` },
  { make: () => -Infinity, says: ` is -Infinity${CANNOT}` },
  { make: () => -0, says: " is -0, which JSON turns into 0" },
  { make: () => new Date(0), says: ` is a Date${NOT_PLAIN}` },
  { make: () => new Map([[1, 2]]), says: ` is a Map${NOT_PLAIN}` },
  { make: () => new Set([1]), says: ` is a Set${NOT_PLAIN}` },
  { make: () => new (class Plan {})(), says: ` is a Plan${NOT_PLAIN}` },
  { make: () => "a\ud800b", says: " contains a lone surrogate" },
  { make: () => [, 1], says: "[0] is an empty array slot" },
  { make: () => ({ [Symbol("k")]: 1 }), says: " has symbol keys, which JSON drops" },
  { make: (container) => container, says: " is a circular reference" },
];

/** A path step as the error writes it. */
function step(key: string | number): string {
  if (typeof key === "number") return `[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Every object and array in `value`, with its path. */
function containers(value: unknown, path = "value"): { at: object; path: string }[] {
  if (typeof value !== "object" || value === null) return [];
  const out = [{ at: value, path }];
  for (const [k, v] of Object.entries(value)) {
    out.push(...containers(v, path + step(Array.isArray(value) ? Number(k) : k)));
  }
  return out;
}

/** fast-check's JSON values may hold -0, which JSON itself turns into 0 (so this library refuses it). */
function noNegativeZero(v: unknown): unknown {
  if (Object.is(v, -0)) return 0;
  if (Array.isArray(v)) return v.map(noNegativeZero);
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      Object.defineProperty(out, k, {
        value: noNegativeZero(x),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return v;
}

const cases = fc.record({
  value: fc.jsonValue({ maxDepth: 5, stringUnit: "grapheme" }).map(noNegativeZero),
  bad: fc.option(fc.nat(BAD.length - 1), { freq: 3 }), // about 1 case in 4 stays good
  where: fc.nat(),
  key: fc.string({ unit: "grapheme", maxLength: 8 }),
});

test("property: a JSON value round-trips; anything else is refused naming its path, and nothing is written", async () => {
  await using state = await StateManager.open({ backend: new MemoryBackend() });
  const tally = await checkProperty("value encoding", cases, async (c) => {
    const { bad, where, key } = c;
    const value = structuredClone(c.value); // changed below; fast-check keeps the original
    if (bad === null) {
      await state.save("k", value);
      assert.deepStrictEqual(await state.load("k"), value);
      await state.delete("k");
      return "round trips";
    }
    const { make, says } = BAD[bad]!;
    const places = containers(value);
    let target: unknown;
    let path: string;
    if (places.length === 0 || where % (places.length + 1) === places.length) {
      if (says.includes("circular")) return await goodAnyway(state, value);
      target = make(undefined); // the value itself
      path = "value";
    } else {
      const { at, path: p } = places[where % places.length]!;
      const inside = Array.isArray(at) ? at.length : key;
      Object.defineProperty(at, inside, {
        value: make(at),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      if (Array.isArray(at)) at.length = Math.max(at.length, (inside as number) + 1);
      target = value;
      path = p + step(inside);
    }
    await assert.rejects(state.save("k", target), (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.equal(e.message, `${path}${says}`);
      return true;
    });
    assert.equal(await state.has("k"), false, "a refused value writes nothing");
    return `refused (${says.replace(/^\[0\]/, "").replace(/[,;].*/, "").trim()})`;
  });
  assert.ok(Object.keys(tally).length > BAD.length / 2, "most kinds of bad value were tried");
});

/** A cycle needs a container: with none, the case is a plain good value. */
async function goodAnyway(state: StateManager, value: unknown): Promise<string> {
  await state.save("k", value);
  assert.deepStrictEqual(await state.load("k"), value);
  await state.delete("k");
  return "round trips";
}
