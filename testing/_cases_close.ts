// One meaning of close() on every backend: operations already started
// finish, calls after close() reject with ClosedError, and closing twice is
// fine. The same through a manager.
import assert from "node:assert/strict";
import { ClosedError } from "../errors.ts";
import { StateManager } from "../state_manager.ts";
import { checkpointRequest, type Define, req, setOp } from "./_define.ts";

const NS = "wf";

/** Registers the close() cases. */
export function closeCases(it: Define): void {
  it("close(): started calls finish, later calls reject with ClosedError", async (b) => {
    await b.commit(NS, setOp({ k: "1" }));
    const started = [
      b.commit(NS, setOp({ k: "2" })),
      b.get(NS, ["k"]),
      b.checkpoint(NS, checkpointRequest("cp")),
      b.list(NS, {}),
    ];
    await b.close();
    const [commit, , info] = await Promise.all(started);
    assert.equal((commit as { ok: boolean }).ok, true);
    assert.equal((info as { name: string }).name, "cp");
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => b.get(NS, ["k"])],
      ["commit", () => b.commit(NS, setOp({ k: "3" }))],
      ["list", () => b.list(NS, {})],
      ["checkpoint", () => b.checkpoint(NS, checkpointRequest("cp2"))],
      ["listCheckpoints", () => b.listCheckpoints(NS)],
      ["readCheckpoint", () => b.readCheckpoint(NS, "cp")],
      ["restore", () => b.restore(NS, "cp", req())],
      ["deleteCheckpoint", () => b.deleteCheckpoint(NS, "cp", req())],
      ["clear", () => b.clear(NS, req())],
      ["head", () => b.head(NS)],
      ["namespaces", () => b.namespaces()],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(call(), ClosedError, `${name} after close()`);
    }
    await b.close(); // twice is fine
  });

  it("a manager's close() lets started operations finish, then refuses", async (backend) => {
    const s = await StateManager.open({ backend, namespace: NS });
    const started = [
      s.update<number>("n", (n = 0) => n + 1),
      s.load("n", 0),
      s.checkpoint("cp"),
      s.status(),
    ];
    await s.close();
    const [n] = await Promise.all(started);
    assert.equal(n, 1);
    await assert.rejects(s.load("n"), ClosedError);
    await assert.rejects(s.save("n", 2), ClosedError);
    await assert.rejects(s.checkpoint(), ClosedError);
    assert.throws(() => s.watch(["n"]), ClosedError);
    const t = await StateManager.open({ backend, namespace: NS });
    assert.equal(await t.load("n"), 1, "what finished is stored");
    await t.close();
  });
}
