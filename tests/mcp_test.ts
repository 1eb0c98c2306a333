// `managing-state mcp` as a real process, driven by the MCP SDK's own Client
// over stdio, on json, sqlite and redis: every tool and its errors, a whole
// workflow, counters raced from two processes, a resource subscription fed
// by another process, --read-only, and a restore that leaves a running step's lease alone.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { RESERVED_PREFIX, StateManager } from "../mod.ts";
import { call, type CallResult, connect, fails, listTools, textOf } from "./_mcp.ts";
import { freePort, redisTarget, reportUnavailable } from "./_redis_server.ts";
import { isDeno, removeDir, runScript, tempDir } from "./_runtime.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const READ = ["load", "dump", "keys", "checkpoints", "diff", "status", "namespaces"];
const WRITE = ["save", "incr", "append", "merge", "delete", "checkpoint", "restore"];

/** A store for one test: the server's settings flags, and its cleanup. */
interface Store {
  args: string[];
  cleanup(): void;
}

const stores: Record<string, () => Store> = {
  json: () => {
    const dir = tempDir("ms-mcp-");
    return { args: ["--backend", "json", "--dir", dir], cleanup: () => removeDir(dir) };
  },
  sqlite: () => {
    const dir = tempDir("ms-mcp-");
    return { args: ["--backend", "sqlite", "--dir", dir], cleanup: () => removeDir(dir) };
  },
};
const redis = await redisTarget();
if (typeof redis === "string") reportUnavailable("mcp redis", redis);
else {
  after(() => redis.server?.stop());
  stores.redis = () => ({ args: ["--backend", "redis", "--url", redis.url], cleanup() {} });
}

/** A namespace of its own per test, so a shared Redis never mixes runs. */
const fresh = () => `wf-${crypto.randomUUID().slice(0, 8)}`;

for (const [backend, open] of Object.entries(stores)) {
  test(`${backend}: mcp lists its tools with schemas and annotations`, async () => {
    const store = open();
    const server = await connect([...store.args, "--namespace", fresh()]);
    try {
      const tools = await listTools(server.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), [...READ, ...WRITE].sort());
      const manifest = isDeno ? "../deno.json" : "../package.json";
      const { version } = JSON.parse(readFileSync(new URL(manifest, import.meta.url), "utf8"));
      assert.deepEqual(server.client.getServerVersion(), { name: "managing-state", version });
      for (const t of tools) {
        assert.equal(t.inputSchema.type, "object", t.name);
        assert.equal(t.outputSchema?.type, "object", t.name);
        assert.equal(t.annotations?.readOnlyHint, READ.includes(t.name), t.name);
        assert.equal(t.annotations?.openWorldHint, false, t.name);
        const destructive = t.name === "restore" || t.name === "delete";
        if (!READ.includes(t.name)) assert.equal(t.annotations?.destructiveHint, destructive);
        if (t.name !== "namespaces") assert.ok("namespace" in t.inputSchema.properties!, t.name);
      }
    } finally {
      await server.close();
      store.cleanup();
    }
  });

  test(`${backend}: mcp tools do what they say, and refuse what they must`, async () => {
    const store = open();
    const ns = fresh();
    const server = await connect([...store.args, "--namespace", ns]);
    const c = server.client;
    try {
      // save / load, one key and several, with versions
      assert.deepEqual(await call(c, "save", { key: "phase", value: "plan" }), {
        saved: ["phase"],
      });
      const first = await call(c, "load", { key: "phase" });
      assert.deepEqual({ ...first, version: typeof first.version }, {
        key: "phase",
        found: true,
        value: "plan",
        version: "string",
      });
      await call(c, "save", { values: { a: 1, b: [2, { c: null }], z: false } });
      assert.deepEqual((await call(c, "load", { key: "b" })).value, [2, { c: null }]);
      const fallback = await call(c, "load", { key: "nope", default: 0 });
      assert.deepEqual(fallback, { key: "nope", found: false, value: 0, version: null });
      // check-and-set
      await call(c, "save", { key: "phase", value: "build", ifVersion: first.version });
      assert.equal(
        (await fails(c, "save", { key: "phase", value: "x", ifVersion: first.version }))
          .code,
        "CONFLICT",
      );
      assert.equal(
        (await fails(c, "save", { key: "phase", value: "x", ifAbsent: true })).code,
        "CONFLICT",
      );
      await call(c, "save", { key: "lease", value: "me", ifAbsent: true, ttlMs: 60_000 });
      assert.notEqual((await call(c, "load", { key: "phase" })).version, first.version);
      assert.equal((await call(c, "load", { key: "phase" })).value, "build");
      // incr / append / merge
      assert.equal((await call(c, "incr", { key: "n" })).value, 1);
      assert.equal((await call(c, "incr", { key: "n", by: 41 })).value, 42);
      assert.equal((await call(c, "append", { key: "log", value: "a" })).length, 1);
      assert.equal((await call(c, "append", { key: "log", value: "b" })).length, 2);
      assert.equal((await call(c, "append", { key: "log", value: { c: 3 } })).length, 3);
      assert.deepEqual((await call(c, "load", { key: "log" })).value, ["a", "b", { c: 3 }]);
      await call(c, "merge", { key: "cfg", value: { x: 1, y: 1 } });
      assert.deepEqual((await call(c, "merge", { key: "cfg", value: { y: 2 } })).value, {
        x: 1,
        y: 2,
      });
      // keys, paged
      const all = await call(c, "keys", {});
      assert.deepEqual(all, {
        keys: ["a", "b", "cfg", "lease", "log", "n", "phase", "z"],
        cursor: null,
      });
      const page = await call(c, "keys", { limit: 2, prefix: "" });
      assert.deepEqual(page, { keys: ["a", "b"], cursor: "b" });
      assert.deepEqual((await call(c, "keys", { cursor: "b", limit: 1 })).keys, ["cfg"]);
      // checkpoints, diff, restore
      assert.deepEqual(await call(c, "checkpoint", { name: "cp1", metadata: { phase: "build" } }), {
        name: "cp1",
      });
      await call(c, "save", { key: "extra", value: 1 });
      await call(c, "save", { key: "a", value: 2 });
      await call(c, "delete", { key: "z" });
      assert.deepEqual(await call(c, "diff", { from: "cp1" }), {
        from: "cp1",
        to: null,
        added: ["extra"],
        removed: ["z"],
        changed: ["a"],
      });
      const auto = (await call(c, "checkpoint", {})).name as string;
      assert.match(auto, /^auto-/);
      const list = (await call(c, "checkpoints", {})).checkpoints as Record<string, unknown>[];
      assert.deepEqual(list.map((x) => x.name), [auto, "cp1"]);
      assert.deepEqual(list[1]!.metadata, { phase: "build" });
      assert.equal(list[1]!.keyCount, 8);
      assert.deepEqual((await call(c, "diff", { from: "cp1", to: auto })).added, ["extra"]);
      assert.deepEqual((await call(c, "diff", { from: "cp1", values: true })).values, {
        added: { extra: 1 },
        removed: { z: false },
        changed: { a: { from: 1, to: 2 } },
      });
      // reads of the whole state and of a checkpoint, restoring nothing
      assert.deepEqual((await call(c, "dump", { prefix: "c" })).values, { cfg: { x: 1, y: 2 } });
      assert.deepEqual((await call(c, "dump", { checkpoint: "cp1", prefix: "z" })).values, {
        z: false,
      });
      const old = await call(c, "load", { key: "a", checkpoint: "cp1" });
      assert.deepEqual(old, { key: "a", found: true, value: 1, version: null });
      const gone = await fails(c, "load", { key: "extra", checkpoint: "cp1" });
      assert.equal(gone.code, "KEY_NOT_FOUND");
      assert.match(gone.text, /"dump" with "checkpoint"/);
      assert.equal(
        (await call(c, "load", { key: "extra", checkpoint: "cp1", default: 0 })).found,
        false,
      );
      assert.equal((await fails(c, "dump", { checkpoint: "nope" })).code, "CHECKPOINT_NOT_FOUND");
      assert.deepEqual(await call(c, "restore", { checkpoint: "cp1" }), { restored: "cp1" });
      assert.equal((await call(c, "load", { key: "a" })).value, 1);
      assert.equal((await call(c, "load", { key: "extra", default: null })).found, false);
      await call(c, "delete", { checkpoint: auto });
      // errors: a code, a message and a hint in the server's terms
      const missing = await fails(c, "load", { key: "missing" });
      assert.equal(missing.code, "KEY_NOT_FOUND");
      assert.match(missing.text, /"keys".*"default"/);
      assert.equal(
        (await fails(c, "restore", { checkpoint: "nope" })).code,
        "CHECKPOINT_NOT_FOUND",
      );
      assert.equal((await fails(c, "delete", { checkpoint: "nope" })).code, "CHECKPOINT_NOT_FOUND");
      const taken = await fails(c, "checkpoint", { name: "cp1" });
      assert.equal(taken.code, "CHECKPOINT_EXISTS");
      assert.match(taken.text, /"overwrite": true/);
      assert.doesNotMatch(taken.text, /\{ overwrite: true \}|--overwrite/);
      await call(c, "checkpoint", { name: "cp1", overwrite: true });
      // bad input against the schema: refused before the tool runs
      const typed = await fails(c, "save", { key: 42, value: 1 });
      assert.equal(typed.code, "VALIDATION");
      assert.equal((await fails(c, "save", { key: "k", vaule: 1 })).code, "VALIDATION");
      assert.equal((await fails(c, "load", {})).code, "VALIDATION");
      assert.equal((await fails(c, "save", { key: "k" })).code, "VALIDATION");
      assert.equal((await fails(c, "save", { key: "", value: 1 })).code, "VALIDATION");
      assert.equal((await fails(c, "load", { key: "k", namespace: "../x" })).code, "VALIDATION");
      assert.equal((await fails(c, "nosuchtool", {})).code, "UNKNOWN_TOOL");
      // values JSON cannot hold faithfully, and verbs on the wrong type: nothing is written
      const before = await call(c, "keys", {});
      const lone = await fails(c, "save", { values: { fine: 1, bad: "\ud800" } });
      assert.equal(lone.code, "VALIDATION");
      assert.match(lone.text, /lone surrogate/);
      assert.equal((await fails(c, "incr", { key: "phase" })).code, "VALIDATION");
      assert.equal((await fails(c, "append", { key: "n", value: 1 })).code, "VALIDATION");
      assert.equal((await fails(c, "merge", { key: "log", value: { a: 1 } })).code, "VALIDATION");
      assert.equal(
        (await fails(c, "checkpoint", { name: "x", metadata: { bad: "\udc00" } })).code,
        "VALIDATION",
      );
      assert.deepEqual(await call(c, "keys", {}), before);
      assert.equal((await call(c, "load", { key: "phase" })).value, "build");
      assert.equal((await call(c, "load", { key: "n" })).value, 42);
      assert.deepEqual(
        (await call(c, "checkpoints", {})).checkpoints,
        await (async () => (await call(c, "checkpoints", {})).checkpoints)(),
      );
      // namespaces: other ones through the same server
      await call(c, "save", { namespace: `${ns}-other`, key: "k", value: 1 });
      const names = (await call(c, "namespaces", {})).namespaces as string[];
      assert.ok(names.includes(ns) && names.includes(`${ns}-other`), names.join());
      assert.deepEqual((await call(c, "keys", { namespace: `${ns}-other` })).keys, ["k"]);
      // delete: keys atomically, with a version check, and a whole namespace
      const v = (await call(c, "load", { key: "a" })).version;
      assert.equal((await fails(c, "delete", { key: "a", ifVersion: "stale" })).code, "CONFLICT");
      await call(c, "delete", { key: "a", ifVersion: v });
      await call(c, "delete", { keys: ["b", "cfg"] });
      assert.deepEqual((await call(c, "keys", { limit: 3 })).keys, ["lease", "log", "n"]);
      await call(c, "delete", { namespace: `${ns}-other`, wholeNamespace: true });
      assert.ok(
        !((await call(c, "namespaces", {})).namespaces as string[]).includes(`${ns}-other`),
      );
      await call(c, "delete", { wholeNamespace: true });
      assert.equal(server.stderr(), "");
    } finally {
      await server.close();
      store.cleanup();
    }
  });

  test(`${backend}: mcp runs a workflow through tools only, with counters raced from two processes`, async () => {
    const store = open();
    const ns = fresh();
    const one = await connect([...store.args, "--namespace", ns]);
    const two = await connect([...store.args, "--namespace", ns]);
    try {
      const a = one.client;
      for (const phase of ["scout", "plan"]) {
        await call(a, "save", { values: { phase, [`${phase}_done`]: true } });
        await call(a, "checkpoint", { name: `after_${phase}`, metadata: { phase } });
      }
      await call(a, "save", { key: "phase", value: "build" });
      await call(a, "append", { key: "build_log", value: "compile failed" });
      await call(a, "checkpoint", { name: "after_build", metadata: { failed: true } });
      await call(a, "save", { key: "tests", value: "red" });
      const midway = await call(a, "status", {});
      const midHead = midway.head as { name: string; via: string };
      assert.deepEqual([midHead.name, midHead.via], ["after_build", "checkpoint"]);
      assert.deepEqual(midway.changes, { added: ["tests"], removed: [], changed: [] });
      // the build failed: roll back to the plan, from another process
      await call(two.client, "restore", { checkpoint: "after_plan" });
      assert.equal((await call(a, "load", { key: "phase" })).value, "plan");
      assert.equal((await call(a, "load", { key: "build_log", default: [] })).found, false);
      // a fresh look, as after a crash: status names the head and the abandoned branch
      const status = await call(a, "status", {});
      assert.equal(status.namespace, ns);
      assert.equal(status.keyCount, 3);
      const head = status.head as { name: string; via: string; at: string };
      assert.deepEqual([head.name, head.via], ["after_plan", "restore"]);
      assert.match(head.at, /^\d{4}-\d\d-\d\dT/);
      assert.deepEqual(status.changes, { added: [], removed: [], changed: [] });
      assert.equal((status.newest as { name: string }).name, "after_build");
      assert.equal(status.abandoned, true);
      const list = (await call(a, "checkpoints", {})).checkpoints as {
        name: string;
        parent: string | null;
      }[];
      assert.deepEqual(list.map((c) => [c.name, c.parent]), [
        ["after_build", "after_plan"],
        ["after_plan", "after_scout"],
        ["after_scout", null],
      ]);
      // two processes increment one counter 50 times each, concurrently
      const race = (c: typeof a) =>
        Promise.all(Array.from({ length: 50 }, () => call(c, "incr", { key: "runs" })));
      await Promise.all([race(one.client), race(two.client)]);
      assert.equal((await call(a, "load", { key: "runs" })).value, 100);
      await call(a, "delete", { wholeNamespace: true });
    } finally {
      await one.close();
      await two.close();
      store.cleanup();
    }
  });

  test(`${backend}: mcp sends resources/updated when another process saves`, async () => {
    const store = open();
    const ns = fresh();
    const watcher = await connect([...store.args, "--namespace", ns]);
    const writer = await connect([...store.args, "--namespace", ns]);
    try {
      const c = watcher.client;
      await call(writer.client, "save", { key: "phase", value: "plan" });
      await call(writer.client, "checkpoint", { name: "cp 1/2" });
      const { resources } = await c.listResources();
      assert.ok(
        resources.some((r: { uri: string }) => r.uri === `state://${ns}`),
        JSON.stringify(resources),
      );
      assert.ok(
        resources.some((r: { uri: string }) => r.uri === `state://${ns}/checkpoints/cp%201%2F2`),
      );
      const read = async (uri: string) =>
        JSON.parse(String(((await c.readResource({ uri })).contents[0] as { text?: string }).text));
      assert.deepEqual(await read(`state://${ns}`), { phase: "plan" });
      const updates: string[] = [];
      let heard!: () => void;
      const heardOne = new Promise<void>((r) => (heard = r));
      const { ResourceUpdatedNotificationSchema } = await import(
        "@modelcontextprotocol/sdk/types.js"
      );
      c.setNotificationHandler(
        ResourceUpdatedNotificationSchema,
        (n: { params: { uri: string } }) => {
          updates.push(n.params.uri);
          heard();
        },
      );
      await c.subscribeResource({ uri: `state://${ns}` });
      await call(writer.client, "save", { key: "phase", value: "build" });
      await Promise.race([
        heardOne,
        new Promise((_, reject) => setTimeout(() => reject(new Error("no update in 5 s")), 5000)),
      ]);
      assert.equal(updates[0], `state://${ns}`);
      assert.deepEqual(await read(`state://${ns}`), { phase: "build" });
      assert.deepEqual(await read(`state://${ns}/checkpoints/cp%201%2F2`), { phase: "plan" });
      await assert.rejects(
        c.readResource({ uri: `state://${ns}/checkpoints/nope` }),
        /CHECKPOINT_NOT_FOUND/,
      );
      await assert.rejects(
        c.subscribeResource({ uri: `state://${ns}/checkpoints/cp%201%2F2` }),
        /VALIDATION.*state:\/\/<namespace>/,
      );
      await c.unsubscribeResource({ uri: `state://${ns}` });
      await call(writer.client, "delete", { wholeNamespace: true });
    } finally {
      await watcher.close();
      await writer.close();
      store.cleanup();
    }
  });
}

test("json: mcp --read-only lists no writing tool and refuses a call to one", async () => {
  const store = stores.json!();
  try {
    const ns = fresh();
    const writer = await connect([...store.args, "--namespace", ns]);
    await call(writer.client, "save", { key: "k", value: 1 });
    await writer.close();
    const server = await connect([...store.args, "--namespace", ns, "--read-only"]);
    try {
      const tools = await listTools(server.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), [...READ].sort());
      assert.ok(tools.every((t) => t.annotations?.readOnlyHint === true));
      const refused = await fails(server.client, "save", { key: "k", value: 2 });
      assert.equal(refused.code, "READ_ONLY");
      assert.match(refused.text, /--read-only/);
      assert.equal((await call(server.client, "load", { key: "k" })).value, 1);
    } finally {
      await server.close();
    }
  } finally {
    store.cleanup();
  }
});

test("json: mcp restore while a step runs leaves its lease and run record live", async () => {
  const store = stores.json!();
  const ns = fresh();
  const state = await StateManager.open({ backend: "json", dir: store.args[3]!, namespace: ns });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const server = await connect([...store.args, "--namespace", ns]);
  try {
    await state.checkpoint("before");
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const step = state.step("build", async (s) => {
      started();
      await gate;
      await s.save("built", true);
    }, { lease: { ttlMs: 60_000 } });
    await running;
    const keys = [`${RESERVED_PREFIX}keep/lease/build`, `${RESERVED_PREFIX}keep/run/build`];
    const before = await Promise.all(keys.map((k) => state.getEntry(k)));
    assert.ok(before.every((e) => e !== null), "the runner holds a lease and a run record");
    assert.deepEqual(await call(server.client, "restore", { checkpoint: "before" }), {
      restored: "before",
    });
    assert.deepEqual(await Promise.all(keys.map((k) => state.getEntry(k))), before);
    release();
    await step;
    assert.equal(await state.load("built"), true);
  } finally {
    release();
    await server.close();
    await state.close();
    store.cleanup();
  }
});

test("json: mcp tool results carry a short text rendering next to the structured result", async () => {
  const store = stores.json!();
  const server = await connect([...store.args, "--namespace", fresh()]);
  try {
    const r = await server.client.callTool({ name: "save", arguments: { key: "k", value: [1] } });
    assert.equal(textOf(r as CallResult), "Saved k");
    const l = await server.client.callTool({ name: "load", arguments: { key: "k" } });
    assert.equal(textOf(l as CallResult), "[1]");
  } finally {
    await server.close();
    store.cleanup();
  }
});

test("json: mcp survives garbage on stdin and answers every request read before stdin closed", async () => {
  const store = stores.json!();
  const child = fileURLToPath(new URL("./_mcp_server_child.ts", import.meta.url));
  const request = (id: number, method: string, params: unknown) =>
    JSON.stringify({ jsonrpc: "2.0", id, method, params });
  const lines = [
    request(1, "initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "pipe", version: "1" },
    }),
    JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    "this is not JSON",
    '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "save"',
    request(3, "tools/call", { name: "save", arguments: "not an object" }),
    request(4, "no/such/method", {}),
    request(5, "tools/call", { name: "save", arguments: { key: "k", value: { deep: [1] } } }),
  ];
  try {
    const r = await runScript(child, ["mcp", ...store.args], {
      input: lines.join("\n") + "\n",
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const answers = new Map<unknown, Record<string, unknown>>();
    for (const line of r.stdout.trim().split("\n")) {
      const message = JSON.parse(line);
      answers.set(message.id, message);
    }
    assert.deepEqual([...answers.keys()].sort(), [1, 3, 4, 5]);
    assert.ok(answers.get(3)!.error || (answers.get(3)!.result as CallResult).isError);
    assert.ok(answers.get(4)!.error);
    assert.deepEqual((answers.get(5)!.result as CallResult).structuredContent?.saved, ["k"]);
    const load = await runScript(child, ["load", "--key", "k", ...store.args]);
    assert.equal(load.stdout.replace(/\s/g, ""), '{"deep":[1]}');
  } finally {
    store.cleanup();
  }
});

test("redis: mcp answers BACKEND when Redis is unreachable, without the URL's password", async () => {
  const url = `redis://me:s3cretpw@127.0.0.1:${await freePort()}`;
  const server = await connect(["--backend", "redis", "--url", url, "--namespace", fresh()]);
  try {
    const r = await fails(server.client, "keys", {});
    assert.equal(r.code, "BACKEND");
    assert.doesNotMatch(r.text + server.stderr(), /s3cretpw/);
    // The server is still up: the next call gets the same answer, not a dead pipe.
    assert.equal((await fails(server.client, "load", { key: "k" })).code, "BACKEND");
  } finally {
    await server.close();
  }
});

test("mcp: a wrong command line is a usage error (exit 2, one line) that starts no server", async () => {
  const child = fileURLToPath(new URL("./_mcp_server_child.ts", import.meta.url));
  const store = stores.json!();
  try {
    for (const args of [["--bogus"], ["--read-only=yes"], ["--backend", "nope"]]) {
      const r = await runScript(child, ["mcp", ...args, ...store.args.slice(2)], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^error: [^\n]+\n$/);
    }
    const help = await runScript(child, ["mcp", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--read-only/);
  } finally {
    store.cleanup();
  }
});
