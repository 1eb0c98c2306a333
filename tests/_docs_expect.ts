// Used by doc examples run by docs_test.ts: `console.log(x); // => v` becomes
// `__expect(x, v, "v")`, which prints x as the example would and checks it.
import assert from "node:assert/strict";

/** Prints `actual` and fails unless it deep-equals `expected`. */
export function __expect(actual: unknown, expected: unknown, text: string): void {
  console.log(actual);
  assert.deepStrictEqual(actual, expected, `the example says => ${text}`);
}
