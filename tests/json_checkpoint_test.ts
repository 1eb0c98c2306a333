// The JSON backend's checkpoint files, byte for byte: the fast paths that
// write and read them (built-in sort, counting bytes from the encoding) give
// what the slow, general ones gave, on ASCII and on every kind of Unicode.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { JsonBackend } from "../backends/json.ts";
import { compareKeys, sortKeys } from "../core/_keys.ts";
import { byteLength } from "../core/_validate.ts";
import { StateManager } from "../mod.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Characters from each range where UTF-8 and UTF-16 order or length differ. */
const ALPHABET = ["a", "b", "Z", "~", "é", "ß", "中", "\u{e000}", "\u{fffd}", "😀", "\u{10000}"];

/** A random string of up to `max` characters from ALPHABET (a seeded generator: repeatable). */
function randomText(next: () => number, max: number): string {
  let s = "";
  for (let n = Math.floor(next() * max); n > 0; n--) s += ALPHABET[Math.floor(next() * 11)];
  return s;
}

function seeded(seed: number): () => number {
  return () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

test("sortKeys() sorts in UTF-8 byte order, like compareKeys, with and without non-ASCII keys", () => {
  const next = seeded(7);
  for (let round = 0; round < 200; round++) {
    const keys = Array.from({ length: 30 }, () => randomText(next, 6));
    if (round % 2 === 0) {
      for (let i = 0; i < keys.length; i++) keys[i] = `k${round}:${i * 7 % 30}`;
    }
    assert.deepEqual(sortKeys([...keys]), [...keys].sort(compareKeys));
  }
  // UTF-16 order would put the astral key first; UTF-8 order puts it last.
  assert.deepEqual(sortKeys(["😀", "\u{fffd}", "a"]), ["a", "\u{fffd}", "😀"]);
});

test("byteLength() counts UTF-8 bytes of ASCII and non-ASCII text, a lone surrogate as 3", () => {
  const next = seeded(11);
  for (let round = 0; round < 300; round++) {
    const text = round % 3 === 0 ? "plain ascii ".repeat(round) : randomText(next, 40);
    assert.equal(byteLength(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
  assert.equal(byteLength("a\ud800b"), 5);
});

/** Today's checkpoint file for `info` and `entries` (in byte order), as the format documents it. */
function expectedFile(
  info: Record<string, unknown>,
  entries: { key: string; value: string; version: string; expiresAt: number | null }[],
): string {
  const lines = [JSON.stringify({ format: "managing-state/checkpoint@1", ...info })];
  for (const e of entries) {
    lines.push(
      `{"key": ${JSON.stringify(e.key)}, "value": ${e.value}, "version": ${
        JSON.stringify(e.version)
      }, "expiresAt": ${e.expiresAt}}`,
    );
  }
  return lines.join("\n") + "\n";
}

for (const kind of ["ASCII", "non-ASCII"]) {
  test(`json: a checkpoint of ${kind} keys and values is the documented file, counted in UTF-8`, async () => {
    const dir = tempDir();
    try {
      const backend = new JsonBackend({ dir });
      const s = await StateManager.open({ backend, namespace: "wf" });
      const data: Record<string, unknown> = kind === "ASCII"
        ? { b: { n: 1 }, a: "x", "a:2": [1, 2], c: null }
        : { "😀": "smile", "\u{fffd}": "é", z: { t: "中文" }, "é": 1, a: "\u{10000}" };
      for (const [key, value] of Object.entries(data)) await s.save(key, value);
      await s.save("gone", 1, { ttlMs: 1 });
      await new Promise((r) => setTimeout(r, 5));
      await s.checkpoint("cp", { metadata: { why: kind } });
      const [info] = await s.listCheckpoints();
      const keys = Object.keys(data).sort(compareKeys);
      const live = await backend.get("wf", keys);
      const bytes = keys.reduce(
        (n, k) => n + new TextEncoder().encode(k + JSON.stringify(data[k])).length,
        0,
      );
      assert.equal(info!.keyCount, keys.length, "the expired key is left out");
      assert.equal(info!.bytes, bytes);
      const text = readFileSync(join(dir, "wf", "checkpoints", "cp.jsonl"), "utf8");
      assert.equal(
        text,
        expectedFile(
          {
            name: "cp",
            createdAt: info!.createdAt,
            keyCount: keys.length,
            bytes,
            auto: false,
            metadata: { why: kind },
            parent: null,
          },
          live.map((e) => e!),
        ),
      );
      assert.deepEqual((await backend.readCheckpoint("wf", "cp"))!.map((e) => e.key), keys);
      await s.close();
    } finally {
      removeDir(dir);
    }
  });
}

test("json: a checkpoint file written by hand in the documented format restores exactly", async () => {
  const dir = tempDir();
  try {
    const s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
    await s.save("later", "removed by the restore");
    await s.save("attempts:build", 3);
    await s.checkpoint("seed"); // creates the folder; overwritten below
    const info = {
      name: "seed",
      createdAt: 1_700_000_000_000,
      keyCount: 3,
      bytes: 0,
      auto: false,
      metadata: {},
      parent: null,
    };
    const entries = [
      { key: "a", value: '{"x": 1,  "y" : [ 1 ]}', version: "v1", expiresAt: null },
      { key: "attempts:build", value: "1", version: "v2", expiresAt: null },
      { key: "é", value: '"中"', version: "v3", expiresAt: null },
    ];
    writeFileSync(join(dir, "wf", "checkpoints", "seed.jsonl"), expectedFile(info, entries));
    await s.restoreCheckpoint("seed", { keep: { prefix: "attempts:" } });
    assert.deepEqual(await s.loadMany((await s.listKeys()).keys), {
      a: { x: 1, y: [1] },
      "attempts:build": 3,
      "é": "中",
    });
    // The restored values are stored as canonical JSON text, with the restore's version.
    const [a] = await s.backend.get("wf", ["a"]);
    assert.equal(a!.value, '{"x":1,"y":[1]}');
    assert.notEqual(a!.version, "v1");
    await s.close();
  } finally {
    removeDir(dir);
  }
});
