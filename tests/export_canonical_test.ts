// One state exported from json, sqlite, kv and redis gives the same file, byte
// for byte: the export is written in one canonical order (namespaces and keys
// in UTF-8 byte order, checkpoints oldest first then by name), whatever order
// a backend lists things in. The lineage (heads, parents) travels too.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { exportState, importState } from "../mod.ts";
import { redis, stopRedis, withStores } from "./_migrate_stores.ts";
import { removeDir, tempDir } from "./_runtime.ts";

after(() => stopRedis());

const T = 1_767_261_600_000;
const FUTURE = 4_102_444_800_000;
// "\u{1F600}" sorts before "\uFFFD" in UTF-16 code units, after it in UTF-8 bytes.
const EMOJI = "k\u{1F600}";
const HIGH = "k\uFFFD";

const line = (o: Record<string, unknown>) => JSON.stringify(o);
const key = (ns: string, k: string, value: unknown, expiresAt: number | null = null) =>
  line({ type: "key", ns, key: k, expiresAt, value });
const cpKey = (ns: string, cp: string, k: string, value: unknown) =>
  line({ type: "checkpoint-key", ns, checkpoint: cp, key: k, expiresAt: null, value });
const cp = (ns: string, name: string, createdAt: number, parent: string | null, keyCount: number) =>
  line({
    type: "checkpoint",
    ns,
    name,
    createdAt,
    auto: false,
    metadata: { by: name },
    parent,
    keyCount,
  });
const HEAD = { name: "same-ms-b", via: "restore", at: T + 9 };

/** The same state, written in an order no backend keeps: what each store is given. */
const SCRAMBLED = [
  line({ format: "managing-state/export", version: 2, createdAt: T, source: "hand" }),
  line({ type: "namespace", name: "wf-b", head: HEAD }),
  key("wf-b", "z", 1),
  key("wf-b", EMOJI, "emoji"),
  key("wf-b", HIGH, "high"),
  key("wf-b", "a", { nested: [1, { x: null }] }, FUTURE),
  cp("wf-b", "same-ms-b", T + 5, "oldest", 2),
  cpKey("wf-b", "same-ms-b", "z", 0),
  cpKey("wf-b", "same-ms-b", "a", [0]),
  cp("wf-b", "same-ms-a", T + 5, "oldest", 1),
  cpKey("wf-b", "same-ms-a", "a", "a"),
  cp("wf-b", "oldest", T, null, 2),
  cpKey("wf-b", "oldest", HIGH, 2),
  cpKey("wf-b", "oldest", EMOJI, 1),
  line({ type: "namespace", name: "wf-a", head: null }),
  key("wf-a", "phase", "build"),
  line({ type: "end", namespaces: 2, keys: 5, checkpoints: 3 }),
].join("\n") + "\n";

/** What every backend must export for it. */
const CANONICAL = [
  line({ format: "managing-state/export", version: 2 }),
  line({ type: "namespace", name: "wf-a", head: null }),
  key("wf-a", "phase", "build"),
  line({ type: "namespace", name: "wf-b", head: HEAD }),
  key("wf-b", "a", { nested: [1, { x: null }] }, FUTURE),
  key("wf-b", HIGH, "high"),
  key("wf-b", EMOJI, "emoji"),
  key("wf-b", "z", 1),
  cp("wf-b", "oldest", T, null, 2),
  cpKey("wf-b", "oldest", HIGH, 2),
  cpKey("wf-b", "oldest", EMOJI, 1),
  cp("wf-b", "same-ms-a", T + 5, "oldest", 1),
  cpKey("wf-b", "same-ms-a", "a", "a"),
  cp("wf-b", "same-ms-b", T + 5, "oldest", 2),
  cpKey("wf-b", "same-ms-b", "a", [0]),
  cpKey("wf-b", "same-ms-b", "z", 0),
  line({ type: "end", namespaces: 2, keys: 5, checkpoints: 3 }),
].join("\n") + "\n";

const kinds = ["json", "sqlite", "kv", ...(typeof redis === "object" ? ["redis"] : [])];

test(`export: one state exported from ${kinds.join(", ")} is byte-identical`, async () => {
  if (typeof redis !== "object") console.warn(`WARNING: redis left out: ${redis}`);
  const dir = tempDir();
  try {
    const input = join(dir, "scrambled.jsonl");
    writeFileSync(input, SCRAMBLED);
    await withStores(kinds, async (...stores) => {
      const files: string[] = [];
      for (const [i, store] of stores.entries()) {
        await importState({ from: input, to: store.endpoint });
        const file = join(dir, `${kinds[i]}.jsonl`);
        await exportState({ from: store.endpoint, to: file });
        files.push(readFileSync(file, "utf8"));
      }
      for (const [i, text] of files.entries()) {
        assert.equal(text, CANONICAL, `${kinds[i]} exports in the canonical order`);
      }
    });
  } finally {
    removeDir(dir);
  }
});
