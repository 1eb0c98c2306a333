import assert from "node:assert/strict";
import { test } from "node:test";
import { circles } from "./check_circles.ts";

const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

test("circles() finds two modules that import each other", () => {
  const found = circles(graph({ a: ["b"], b: ["a"], c: ["a"] }));
  assert.deepEqual(found, [["a", "b"]]);
});

test("circles() finds a loop through three modules and a self-import", () => {
  const found = circles(graph({ a: ["b"], b: ["c"], c: ["a"], d: ["d"], e: [] }));
  assert.deepEqual(found.sort(), [["a", "b", "c"], ["d"]]);
});

test("circles() finds nothing in a layered graph", () => {
  assert.deepEqual(circles(graph({ mod: ["a", "b"], a: ["types"], b: ["types"], types: [] })), []);
});
