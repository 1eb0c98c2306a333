// The contract's plain parts, pinned at the backend level: paging order,
// TTL edges and importCheckpoint.
import assert from "node:assert/strict";
import { checkpointRequest, type Define, setOp } from "./_define.ts";

const NS = "wf";

/** Registers the paging, TTL and importCheckpoint cases. */
export function basicCases(it: Define): void {
  it("list pages through keys in UTF-8 byte order, by prefix and cursor", async (b) => {
    const keys = [
      "task:2",
      "task:10",
      "task:1",
      "t",
      "task:é",
      "task:\u{10000}",
      "task:\uff5e",
      "u",
    ];
    await b.commit(NS, setOp(Object.fromEntries(keys.map((k) => [k, "1"]))));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await b.list(NS, { prefix: "task:", limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.keys.length <= 2);
      seen.push(...page.keys);
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
    assert.deepEqual(seen, [
      "task:1",
      "task:10",
      "task:2",
      "task:é",
      "task:\uff5e",
      "task:\u{10000}",
    ]);
    assert.deepEqual((await b.list(NS, { cursor: "task:é" })).keys, [
      "task:\uff5e",
      "task:\u{10000}",
      "u",
    ]);
  });

  it("TTL edges: expired keys are absent everywhere; a live TTL survives a checkpoint", async (b) => {
    const now = Date.now();
    const op = setOp({});
    await b.commit(NS, {
      ...op,
      sets: [
        { key: "gone", value: "1", expiresAt: now - 1 },
        { key: "live", value: "2", expiresAt: now + 60_000 },
        // Long enough to be listed before it expires on a loaded machine (150 ms was not).
        { key: "soon", value: "3", expiresAt: now + 1_000 },
        { key: "kept", value: "4", expiresAt: null },
      ],
    });
    assert.deepEqual((await b.get(NS, ["gone"]))[0], null);
    assert.equal((await b.get(NS, ["live"]))[0]?.expiresAt, now + 60_000);
    assert.deepEqual((await b.list(NS, {})).keys, ["kept", "live", "soon"]);
    // A check on an expired key sees it absent.
    const check = setOp({ gone: "5" }, [{ key: "gone", version: null }]);
    assert.equal((await b.commit(NS, check)).ok, true);
    await new Promise((resolve) => setTimeout(resolve, now + 1_050 - Date.now()));
    assert.deepEqual((await b.list(NS, {})).keys, ["gone", "kept", "live"]);
    const info = await b.checkpoint(NS, checkpointRequest("cp"));
    assert.equal(info.keyCount, 3, "expired keys are not taken");
    const saved = await b.readCheckpoint(NS, "cp");
    assert.equal(saved?.find((e) => e.key === "live")?.expiresAt, now + 60_000);
  });

  it("importCheckpoint writes entries as given, counts them, and replaces by name", async (b) => {
    const info = {
      name: "cp",
      createdAt: 42,
      keyCount: 99,
      bytes: 99,
      auto: true,
      metadata: { phase: "plan" },
      parent: null,
    };
    const entries = [
      { key: "a", value: '"x"', version: "v-a", expiresAt: null },
      { key: "b", value: "[1]", version: "v-b", expiresAt: Date.now() + 60_000 },
    ];
    await b.importCheckpoint(NS, info, entries);
    const [listed] = await b.listCheckpoints(NS);
    assert.deepEqual(listed, { ...info, keyCount: 2, bytes: 1 + 3 + 1 + 3 });
    assert.deepEqual(await b.readCheckpoint(NS, "cp"), entries);
    assert.deepEqual((await b.list(NS, {})).keys, [], "the live keys are not touched");
    await b.importCheckpoint(NS, { ...info, metadata: {} }, entries.slice(0, 1));
    assert.equal((await b.listCheckpoints(NS)).length, 1);
    assert.deepEqual((await b.readCheckpoint(NS, "cp"))?.map((e) => e.key), ["a"]);
  });
}
