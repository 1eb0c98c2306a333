// exportState() / importState(): the portable JSON Lines file, from every
// backend into another, verified; damaged files refused with the line named.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { exportState, importState, ValidationError } from "../mod.ts";
import { MISSING, populate, snapshot, stopRedis, STORES, withStores } from "./_migrate_stores.ts";
import { removeDir, tempDir } from "./_runtime.ts";

after(() => stopRedis());

for (const [kind, why] of Object.entries(MISSING)) {
  test(`export: the pairs with ${kind} have a server`, () => {
    throw new Error(`no ${kind} server for the pair tests: ${why}`);
  });
}

const kinds = Object.keys(STORES);

for (const [i, from] of kinds.entries()) {
  const to = kinds[(i + 1) % kinds.length]!;
  test(`export/import: ${from} -> file -> ${to} gives identical namespaces`, () =>
    withStores([from, to], async (src, dst) => {
      const dir = tempDir();
      try {
        await populate(src);
        const file = join(dir, "state.jsonl");
        const totals = await exportState({ from: src.endpoint, to: file });
        assert.deepEqual(totals, { namespaces: 2, keys: 5, checkpoints: 2 });
        const dry = await importState({ from: file, to: dst.endpoint, dryRun: true });
        assert.equal(dry.written, 5);
        const probe = await dst.open("wf-a");
        assert.deepEqual(await probe.listNamespaces(), [], "a dry run writes nothing");
        await probe.close();
        const report = await importState({ from: file, to: dst.endpoint });
        assert.equal(report.verified, true);
        assert.equal(report.from, "export file");
        for (const ns of ["wf-a", "wf-b"]) {
          assert.deepEqual(await snapshot(dst, ns), await snapshot(src, ns));
        }
        const again = await importState({ from: file, to: dst.endpoint });
        assert.equal(again.written, 0, "importing twice writes nothing");
      } finally {
        removeDir(dir);
      }
    }));
}

test("export: the file is versioned JSON Lines in the documented order", () =>
  withStores(["sqlite"], async (src) => {
    const dir = tempDir();
    try {
      await populate(src);
      const file = join(dir, "state.jsonl");
      await exportState({ from: src.endpoint, to: file, namespaces: ["wf-a"] });
      const lines = readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
      // No time and no source name: the same state gives the same file from every backend.
      assert.deepEqual(lines[0], { format: "managing-state/export", version: 2 });
      assert.deepEqual(lines.map((l) => l.type ?? "header"), [
        "header",
        "namespace",
        ...Array(4).fill("key"),
        // Checkpoints oldest first.
        "checkpoint",
        ...Array(5).fill("checkpoint-key"),
        "checkpoint",
        ...Array(4).fill("checkpoint-key"),
        "end",
      ]);
      assert.deepEqual(lines.filter((l) => l.type === "key").map((l) => l.key), [
        "lease",
        "phase",
        "tasks",
        "ü-key",
      ]);
      const lease = lines.find((l) => l.key === "lease");
      assert.equal(typeof lease.expiresAt, "number");
      const cp = lines.find((l) => l.name === "after_planning");
      assert.deepEqual(cp.metadata, { phase: "plan", run: 7 });
      assert.ok("parent" in cp, "version 2: checkpoints carry their parent");
      assert.ok("head" in lines[1], "version 2: namespaces carry their head");
      assert.deepEqual(lines.at(-1), { type: "end", namespaces: 1, keys: 4, checkpoints: 2 });
      const streamed: string[] = [];
      await exportState({ from: src.endpoint, to: (l) => void streamed.push(l) });
      assert.ok(streamed.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n")));
    } finally {
      removeDir(dir);
    }
  }));

test("import: a damaged or foreign file is refused, naming the line", () =>
  withStores(["json"], async (src) => {
    const dir = tempDir();
    try {
      await populate(src);
      const file = join(dir, "state.jsonl");
      await exportState({ from: src.endpoint, to: file });
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      const n = (type: string, from = 0) =>
        lines.findIndex((l, i) => i >= from && JSON.parse(l).type === type);
      const edit = (i: number, f: (r: Record<string, unknown>) => void) =>
        lines.map((l, j) => {
          if (j !== i) return l;
          const r = JSON.parse(l);
          f(r);
          return JSON.stringify(r);
        });
      const key = n("key");
      const cp = n("checkpoint");
      const cpKey = n("checkpoint-key");
      const cases: [string[], RegExp][] = [
        [
          [...lines.slice(0, 3), '{"type": "key", "ns"', ...lines.slice(4)],
          /line 4: not valid JSON/,
        ],
        [lines.slice(0, 5), /line 6: the file ends early \(no end line\)/],
        [lines.slice(1), /line 1: no managing-state export header/],
        [edit(0, (r) => (r.version = 9)), /line 1: format version 9 is not supported/],
        [edit(key, (r) => (r.ns = "other")), new RegExp(`line ${key + 1}: ns is "other"`)],
        [
          edit(key, (r) => (r.expiresAt = "soon")),
          new RegExp(`line ${key + 1}: expiresAt "soon" is not a time`),
        ],
        [edit(key, (r) => delete r.value), new RegExp(`line ${key + 1}: a key line has no value`)],
        [edit(key, (r) => (r.key = "")), new RegExp(`line ${key + 1}: Key must not be empty`)],
        [
          edit(cp, (r) => (r.keyCount = 99)),
          new RegExp(
            `line ${cp + 1}: checkpoint "[^"]+" is followed by \\d+ keys, its line says 99`,
          ),
        ],
        [
          edit(cpKey, (r) => (r.checkpoint = "x")),
          new RegExp(`line ${cpKey + 1}: checkpoint is "x"`),
        ],
        [edit(cp, (r) => (r.metadata = [1])), new RegExp(`line ${cp + 1}: metadata must be`)],
        [
          edit(lines.length - 1, (r) => (r.keys = 4)),
          new RegExp(`line ${lines.length}: the end line counts 4 keys, the file holds 5`),
        ],
        [[...lines, lines[1]!], new RegExp(`line ${lines.length + 1}: there are lines after`)],
        [edit(1, (r) => (r.type = "nope")), /line 2: expected a namespace line, got "nope"/],
      ];
      for (const [text, message] of cases) {
        const bad = join(dir, "bad.jsonl");
        writeFileSync(bad, text.join("\n") + "\n");
        await withStores(["sqlite"], async (target) => {
          await assert.rejects(importState({ from: bad, to: target.endpoint }), (e: unknown) => {
            assert.ok(e instanceof ValidationError);
            assert.match(e.message, message);
            assert.ok(e.message.includes(bad), "names the file");
            return true;
          });
        });
      }
      await assert.rejects(
        importState({ from: join(dir, "missing.jsonl"), to: { backend: "memory" } }),
        /Cannot read export file .*missing\.jsonl/,
      );
    } finally {
      removeDir(dir);
    }
  }));

test("export: a file in a missing folder is refused before anything is read or written", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, "missing", "state.jsonl");
    await assert.rejects(
      exportState({ from: { backend: "sqlite", path: join(dir, "s.db") }, to: file }),
      (e: unknown) =>
        e instanceof ValidationError && /folder .*missing does not exist/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), [], "the source was not even opened");
    await assert.rejects(exportState({ from: { backend: "memory" }, to: dir }), /it is a folder/);
  } finally {
    removeDir(dir);
  }
});
