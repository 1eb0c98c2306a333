// Request ids: every mutating call is exactly-once by its id, also when its
// reply is lost while another writer is at work (issue: "did my lost request
// land?" is answered by the id, never by a key's version).
import assert from "node:assert/strict";
import { StateManager } from "../state_manager.ts";
import { CheckpointExistsError } from "../errors.ts";
import type { Backend } from "../types.ts";
import { checkpointRequest, type Define, FAST_RETRY, req, setOp } from "./_define.ts";
import { FaultyBackend } from "./_faulty.ts";

const NS = "wf";

/** Two managers on one backend: `a` through a wrapper that loses replies, `b` direct. */
async function pair(backend: Backend) {
  const faulty = new FaultyBackend(backend);
  const a = await StateManager.open({ backend: faulty, namespace: NS, retry: FAST_RETRY });
  const b = await StateManager.open({ backend, namespace: NS, retry: FAST_RETRY });
  return {
    faulty,
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

/** Registers the request-id cases. */
export function requestCases(it: Define): void {
  it("a commit with a recorded id applies nothing and reports success", async (backend) => {
    const first = setOp({ k: "1" });
    assert.deepEqual(await backend.commit(NS, first), { ok: true, version: first.version });
    assert.equal((await backend.commit(NS, setOp({ k: "2" }))).ok, true);
    assert.deepEqual(await backend.commit(NS, first), { ok: true, version: first.version });
    const [entry] = await backend.get(NS, ["k"]);
    assert.equal(entry?.value, "2");
  });

  it("a commit whose check failed records no id: its retry is evaluated again", async (backend) => {
    const op = setOp({ k: "1" }, [{ key: "k", version: "no-such-version" }]);
    assert.deepEqual(await backend.commit(NS, op), { ok: false });
    const fixed = { ...op, checks: [{ key: "k", version: null }] };
    assert.deepEqual(await backend.commit(NS, fixed), { ok: true, version: op.version });
    assert.equal((await backend.get(NS, ["k"]))[0]?.value, "1");
  });

  it("checkpoint, restore, delete and clear with a recorded id report success again", async (b) => {
    await b.commit(NS, setOp({ k: "1" }));
    const request = checkpointRequest("cp");
    const info = await b.checkpoint(NS, request);
    await b.commit(NS, setOp({ k: "2" }));
    assert.deepEqual(await b.checkpoint(NS, request), info, "not CheckpointExistsError");
    await assert.rejects(b.checkpoint(NS, checkpointRequest("cp")), CheckpointExistsError);
    const restore = req();
    assert.equal(await b.restore(NS, "cp", restore), true);
    await b.commit(NS, setOp({ k: "3" }));
    assert.equal(await b.restore(NS, "cp", restore), true);
    assert.equal((await b.get(NS, ["k"]))[0]?.value, "3", "the replay restored nothing");
    const del = req();
    assert.equal(await b.deleteCheckpoint(NS, "cp", del), true);
    assert.equal(await b.deleteCheckpoint(NS, "cp", del), true);
    assert.equal(await b.deleteCheckpoint(NS, "cp", req()), false);
    const clear = req();
    await b.clear(NS, clear);
    await b.commit(NS, setOp({ k: "4" }));
    await b.clear(NS, clear);
    assert.equal((await b.get(NS, ["k"]))[0]?.value, "4", "the replay cleared nothing");
  });

  it("a lost commit reply with a concurrent writer: one update counts once", async (backend) => {
    const { faulty, a, b, close } = await pair(backend);
    try {
      faulty.loseNext("commit", () => b.update<number>("n", (n = 0) => n + 1));
      await a.update<number>("n", (n = 0) => n + 1);
      assert.equal(faulty.lost, 1);
      assert.equal(await b.load("n"), 2);
    } finally {
      await close();
    }
  });

  it("a lost checkpoint reply reports success, not 'exists'", async (backend) => {
    const { faulty, a, b, close } = await pair(backend);
    try {
      await a.save("phase", "plan");
      faulty.loseNext("checkpoint", () => b.save("phase", "build"));
      assert.equal(await a.checkpoint("cp"), "cp");
      assert.equal(faulty.lost, 1);
      assert.deepEqual((await a.listCheckpoints()).map((c) => c.name), ["cp"]);
      await a.restoreCheckpoint("cp");
      assert.equal(await a.load("phase"), "plan");
    } finally {
      await close();
    }
  });

  it("a lost delete reply reports success, not 'not found'", async (backend) => {
    const { faulty, a, close } = await pair(backend);
    try {
      await a.checkpoint("cp");
      faulty.loseNext("deleteCheckpoint");
      await a.deleteCheckpoint("cp");
      assert.equal(faulty.lost, 1);
      assert.deepEqual(await a.listCheckpoints(), []);
    } finally {
      await close();
    }
  });

  it("a lost restore or clear reply is not applied again over a later write", async (backend) => {
    const { faulty, a, b, close } = await pair(backend);
    try {
      await a.save("phase", "plan");
      await a.checkpoint("cp");
      await a.save("phase", "build");
      faulty.loseNext("restore", () => b.save("after", 1));
      await a.restoreCheckpoint("cp");
      assert.deepEqual(await b.loadMany(["phase", "after"]), { phase: "plan", after: 1 });
      faulty.loseNext("clear", () => b.save("after", 2));
      await a.clear();
      assert.equal(faulty.lost, 2);
      assert.deepEqual((await b.listKeys()).keys, ["after"]);
      assert.equal(await b.load("after"), 2);
    } finally {
      await close();
    }
  });
}
