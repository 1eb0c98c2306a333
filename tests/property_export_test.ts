// Export files, property-based: a valid export file, damaged by 1-3 random
// mutations (lines dropped, doubled, swapped or replaced, fields changed,
// characters inserted or removed, the file cut short), is either refused with
// a ValidationError that names the line, leaving the target untouched, or
// imported and verified. Never half an import.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { exportState, importState, MemoryBackend, StateManager, ValidationError } from "../mod.ts";
import { checkProperty, fc } from "./_property.ts";
import { removeDir, tempDir } from "./_runtime.ts";

const dir = tempDir("ms-export-prop-");

/** A small valid export: two namespaces, keys with TTLs and unicode, two checkpoints. */
async function validExport(): Promise<string> {
  const backend = new MemoryBackend();
  const a = await StateManager.open({ backend, namespace: "wf-a" });
  await a.saveMany({ phase: "plan", tasks: ["scout", "plan"], "ü-key": { n: 1 }, zero: 0 });
  await a.save("lease", "worker-1", { ttlMs: 3_600_000 });
  await a.checkpoint("after_planning", { metadata: { phase: "plan", run: 7 } });
  await a.save("phase", "build");
  await a.checkpoint();
  const b = await StateManager.open({ backend, namespace: "wf-b" });
  await b.save("only", "");
  const file = join(dir, "valid.jsonl");
  await exportState({ from: backend, to: file });
  await backend.close();
  return readFileSync(file, "utf8");
}

type Mutation = (lines: string[]) => string[];

/** Names a mutation, so a failing case prints what it did. */
function named(what: string, fn: Mutation): Mutation {
  return Object.assign(fn, { [fc.toStringMethod]: () => what });
}

const anyJson = fc.jsonValue({ maxDepth: 2 });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((i) => named(`drop line #${i}`, (l) => l.filter((_, j) => j !== i % l.length))),
  fc.nat().map((i) =>
    named(`double line #${i}`, (l) => l.flatMap((x, j) => (j === i % l.length ? [x, x] : [x])))
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]) =>
    named(`swap lines #${i} and #${j}`, (l) => {
      const out = [...l];
      const [x, y] = [i % l.length, j % l.length];
      [out[x], out[y]] = [out[y]!, out[x]!];
      return out;
    })
  ),
  fc.tuple(fc.nat(), fc.oneof(fc.json(), fc.string({ unit: "grapheme" }))).map(([i, text]) =>
    named(
      `replace line #${i} with ${JSON.stringify(text)}`,
      (l) => l.map((x, j) => (j === i % l.length ? text : x)),
    )
  ),
  // A field of a line set to another JSON value.
  fc.tuple(fc.nat(), fc.nat(), anyJson).map(([i, f, v]) =>
    named(`set field #${f} of line #${i} to ${JSON.stringify(v)}`, (l) =>
      l.map((x, j) => {
        if (j !== i % l.length) return x;
        try {
          const rec = JSON.parse(x);
          const fields = Object.keys(rec);
          if (fields.length === 0) return x;
          rec[fields[f % fields.length]!] = v;
          return JSON.stringify(rec);
        } catch {
          return x;
        }
      }))
  ),
  // A character inserted or removed anywhere, or the file cut short.
  fc.tuple(fc.nat(), fc.string({ unit: "binary", minLength: 1, maxLength: 1 }))
    .map(([at, c]): Mutation => (l) => {
      const text = l.join("\n");
      const i = at % (text.length + 1);
      return (text.slice(0, i) + c + text.slice(i)).split("\n");
    }),
  fc.nat().map((at): Mutation => (l) => {
    const text = l.join("\n");
    const i = at % Math.max(text.length, 1);
    return (text.slice(0, i) + text.slice(i + 1)).split("\n");
  }),
  fc.nat().map((at): Mutation => (l) =>
    l.join("\n").slice(0, at % l.join("\n").length).split("\n")
  ),
);

const valid = await validExport();

test("property: a damaged export file is refused naming the line and writes nothing, or imports verified", async () => {
  const lines = valid.trimEnd().split("\n");
  const file = join(dir, "mutated.jsonl");
  try {
    await checkProperty(
      "export file mutations",
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      async (mutations) => {
        const text = mutations.reduce((l, m) => m(l), lines).join("\n") + "\n";
        writeFileSync(file, text);
        const target = new MemoryBackend();
        try {
          const report = await importState({ from: file, to: target });
          assert.equal(report.verified, true);
          return text === valid ? "unchanged, imported" : "imported, verified";
        } catch (error) {
          assert.ok(error instanceof ValidationError, String(error));
          assert.match(error.message, /^Export file .* line \d+: /);
          assert.deepEqual(await target.namespaces(), [], "nothing imported");
          return "refused, line named";
        } finally {
          await target.close();
        }
      },
    );
  } finally {
    removeDir(dir);
  }
});
