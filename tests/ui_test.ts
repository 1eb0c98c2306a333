// `managing-state ui` as a real process, over raw HTTP: the token and its
// cookie, the Host and Origin checks, read-only unless --allow-restore, only
// the package's own files, nothing written by reading, and a restore that
// leaves a running step's lease alone. The browser tests (ui_browser_test.ts)
// cover the page itself.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { RESERVED_PREFIX, StateManager } from "../mod.ts";
import { run } from "../cli.ts";
import { http, startUi, type UiProcess } from "./_ui.ts";
import { removeDir, tempDir } from "./_runtime.ts";

const cwd = tempDir("ms-ui-");
const dir = join(cwd, "state");
let ro: UiProcess;
let rw: UiProcess;

before(async () => {
  await using s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
  await s.save("phase", "plan");
  await s.checkpoint("cp1");
  await s.save("phase", "build");
  [ro, rw] = await Promise.all([
    startUi(["--backend", "json", "--dir", dir], cwd),
    startUi(["--backend", "json", "--dir", dir, "--allow-restore"], cwd),
  ]);
});

after(async () => {
  await Promise.all([ro?.stop(), rw?.stop()]);
  removeDir(cwd);
});

const restoreBody = JSON.stringify({ ns: "wf", checkpoint: "cp1" });

/** A restore request as the page sends it, with changes. */
function restoreFrom(ui: UiProcess, headers: Record<string, string> = {}) {
  return http(ui.port, "/api/restore", {
    method: "POST",
    headers: {
      cookie: ui.cookie,
      origin: ui.base,
      "content-type": "application/json",
      ...headers,
    },
    body: restoreBody,
  });
}

/** Every file's path, size and content hash under a folder. */
function snapshot(folder: string): string[] {
  return readdirSync(folder, { recursive: true }).map(String).sort().map((name) => {
    const path = join(folder, name);
    const st = statSync(path);
    if (!st.isFile()) return `${name}/`;
    return `${name} ${st.size} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
  });
}

test("ui: binds to loopback and prints a URL with a 64-hex-digit token", () => {
  assert.match(ro.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
  assert.notEqual(ro.token, rw.token);
});

test("ui: every path answers 401 without the token, and with a wrong one", async () => {
  for (const path of ["/", "/app.js", "/ui.css", "/api/namespaces", "/api/events?ns=wf", "/nope"]) {
    assert.equal((await http(ro.port, path)).status, 401, path);
    const wrong = `managing_state_ui_${ro.port}=${"0".repeat(64)}`;
    assert.equal((await http(ro.port, path, { headers: { cookie: wrong } })).status, 401, path);
  }
  assert.equal((await http(ro.port, "/?token=" + "f".repeat(64))).status, 401);
  // Another server's cookie is not this one's.
  const other = { cookie: `managing_state_ui_${rw.port}=${rw.token}` };
  assert.equal((await http(ro.port, "/api/namespaces", { headers: other })).status, 401);
});

test("ui: the token in the URL becomes an HttpOnly, SameSite=Strict cookie and leaves the URL", async () => {
  const r = await http(ro.port, `/?token=${ro.token}`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, "/");
  assert.equal(
    r.headers["set-cookie"],
    `managing_state_ui_${ro.port}=${ro.token}; Path=/; HttpOnly; SameSite=Strict`,
  );
  const page = await http(ro.port, "/", { headers: { cookie: ro.cookie } });
  assert.equal(page.status, 200);
  assert.match(page.headers["content-type"]!, /^text\/html/);
  assert.match(page.headers["content-security-policy"]!, /script-src 'self'/);
  assert.equal(page.headers["x-content-type-options"], "nosniff");
  assert.match(page.body, /<script type="module" src="\/app.js">/);
});

test("ui: a request naming another host is refused (DNS rebinding)", async () => {
  const headers = { cookie: ro.cookie, host: `evil.example:${ro.port}` };
  assert.equal((await http(ro.port, "/api/namespaces", { headers })).status, 403);
  for (const host of [`localhost:${ro.port}`, `127.0.0.1:${ro.port}`]) {
    const ok = await http(ro.port, "/api/namespaces", { headers: { cookie: ro.cookie, host } });
    assert.equal(ok.status, 200, host);
  }
});

test("ui: traversal and unknown paths get 404, plain or encoded", async () => {
  const paths = [
    "/../cli.ts",
    "/..%2fcli.ts",
    "/%2e%2e/cli.ts",
    "/%2E%2E%2Fcli.ts",
    "/.%2e/deno.json",
    "/x/../app.js",
    "/app.js/..",
    "//etc/passwd",
    "/..\\cli.ts",
    "/%5c..%5ccli.ts",
    "/ui/server.ts",
    "/ui/_page.ts",
    "/cli.ts",
    "/%2fetc%2fpasswd",
    "/app.js%00.png",
    "/app.js?x=1/../../deno.json".replace("?", "/"),
  ];
  for (const path of paths) {
    const r = await http(ro.port, path, { headers: { cookie: ro.cookie } });
    assert.equal(r.status, 404, path);
  }
  assert.equal((await http(ro.port, "/app.js", { headers: { cookie: ro.cookie } })).status, 200);
});

test("ui: restore is refused when read-only, without the token, cross-origin and as a form", async () => {
  assert.equal((await restoreFrom(ro)).status, 403, "read-only");
  assert.match((await restoreFrom(ro)).body, /--allow-restore/);
  assert.equal((await restoreFrom(rw, { cookie: "" })).status, 401, "no token");
  assert.equal((await restoreFrom(rw, { origin: "http://evil.example" })).status, 403, "origin");
  assert.equal((await restoreFrom(rw, { origin: "null" })).status, 403, "opaque origin");
  assert.equal(
    (await restoreFrom(rw, { origin: `http://127.0.0.1:${rw.port + 1}` })).status,
    403,
    "another port of this host",
  );
  const noOrigin = await http(rw.port, "/api/restore", {
    method: "POST",
    headers: { cookie: rw.cookie, "content-type": "application/json" },
    body: restoreBody,
  });
  assert.equal(noOrigin.status, 403, "no Origin");
  assert.equal((await restoreFrom(rw, { "content-type": "text/plain" })).status, 415, "form");
  assert.equal(
    (await http(rw.port, "/api/restore?ns=wf&checkpoint=cp1", { headers: { cookie: rw.cookie } }))
      .status,
    405,
    "GET",
  );
  await using s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
  assert.equal(await s.load("phase"), "build", "nothing was restored");
});

test("ui: with --allow-restore the page's own POST restores", async () => {
  await using s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
  await s.save("phase", "test");
  await s.save("extra", 1);
  const r = await restoreFrom(rw);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { restored: "cp1", ns: "wf" });
  assert.equal(await s.load("phase"), "plan");
  assert.equal(await s.has("extra"), false);
  const missing = await http(rw.port, "/api/restore", {
    method: "POST",
    headers: { cookie: rw.cookie, origin: rw.base, "content-type": "application/json" },
    body: JSON.stringify({ ns: "wf", checkpoint: "nope" }),
  });
  assert.equal(missing.status, 404);
});

test("ui: reading every view writes nothing, and a bad namespace is a 400", async () => {
  const before = snapshot(dir);
  const get = async (path: string) => {
    const r = await http(ro.port, path, { headers: { cookie: ro.cookie } });
    return { status: r.status, body: r.body ? JSON.parse(r.body) : null };
  };
  assert.deepEqual((await get("/api/namespaces")).body, ["wf"]);
  const stats = (await get("/api/namespace?ns=wf")).body;
  assert.equal(stats.keys, 1);
  assert.equal(stats.checkpoints, 1);
  assert.equal(typeof stats.lastChange, "number");
  assert.deepEqual(
    (await get("/api/keys?ns=wf&prefix=ph")).body.rows.map((r: { key: string }) => r.key),
    [
      "phase",
    ],
  );
  assert.equal((await get("/api/history?ns=wf")).body.rows[0].name, "cp1");
  assert.equal((await get("/api/diff?ns=wf&from=cp1")).status, 200);
  assert.deepEqual((await get("/api/keys?ns=never-written")).body.rows, []);
  assert.equal((await get("/api/keys?ns=..%2Fx")).status, 400);
  assert.equal((await get("/api/keys?ns=wf&limit=0")).status, 400);
  assert.equal((await get("/api/diff?ns=wf&from=nope")).status, 404);
  assert.deepEqual(snapshot(dir), before);
  assert.equal(
    (await http(ro.port, "/api/keys?ns=wf", { method: "DELETE", headers: { cookie: ro.cookie } }))
      .status,
    405,
  );
});

test("ui: the value diff carries old and new values", async () => {
  await using s = await StateManager.open({ backend: "json", dir, namespace: "diff" });
  await s.saveMany({ a: 1, b: { deep: [1, 2] }, gone: "x" });
  await s.checkpoint("one");
  await s.saveMany({ a: 2, b: { deep: [1, 3] }, fresh: true });
  await s.delete("gone");
  await s.checkpoint("two");
  const r = await http(ro.port, "/api/diff?ns=diff&from=one&to=two", {
    headers: { cookie: ro.cookie },
  });
  assert.deepEqual(JSON.parse(r.body), {
    from: "one",
    to: "two",
    added: [{ key: "fresh", new: true }],
    removed: [{ key: "gone", old: "x" }],
    changed: [{ key: "a", old: 1, new: 2 }, {
      key: "b",
      old: { deep: [1, 2] },
      new: { deep: [1, 3] },
    }],
    counts: { added: 1, removed: 1, changed: 2 },
  });
});

test("ui: a restore while a step runs leaves its lease and run record live", async () => {
  await using s = await StateManager.open({ backend: "json", dir, namespace: "steps" });
  await s.checkpoint("cp");
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const step = s.step("build", async (w) => {
    started();
    await gate;
    await w.save("built", true);
  }, { lease: { ttlMs: 60_000 } });
  try {
    await running;
    const keys = [`${RESERVED_PREFIX}keep/lease/build`, `${RESERVED_PREFIX}keep/run/build`];
    const before = await Promise.all(keys.map((k) => s.getEntry(k)));
    assert.ok(before.every((e) => e !== null), "the runner holds a lease and a run record");
    const r = await http(rw.port, "/api/restore", {
      method: "POST",
      headers: { cookie: rw.cookie, origin: rw.base, "content-type": "application/json" },
      body: JSON.stringify({ ns: "steps", checkpoint: "cp" }),
    });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(await Promise.all(keys.map((k) => s.getEntry(k))), before);
  } finally {
    release();
  }
  await step;
  assert.equal(await s.load("built"), true);
});

test("ui: SIGTERM stops the server promptly and quietly", async () => {
  const ui = await startUi(["--backend", "json", "--dir", dir], cwd);
  const started = Date.now();
  const code = await ui.stop();
  // Deno's child_process reports a child it signalled as killed (null), whatever its exit code.
  assert.ok(code === 0 || code === null, String(code));
  assert.ok(Date.now() - started < 5000);
  assert.equal(ui.stderr(), "");
  assert.equal((await http(ui.port, "/").catch(() => ({ status: -1 }))).status, -1);
});

test("ui: a bad --port or --host is a usage error (exit 2), a taken port says what to do", async () => {
  const lines: string[] = [];
  const io = {
    out: (t: string) => void lines.push(t),
    err: (t: string) => void lines.push(t),
    stdin: () => Promise.resolve(""),
    stderrIsTty: false,
  };
  const base = ["ui", "--backend", "memory"];
  for (const bad of [["--port", "x"], ["--port", "70000"], ["--port", "-1"], ["--host", ""]]) {
    lines.length = 0;
    assert.equal(await run([...base, ...bad], io), 2, bad.join(" "));
    assert.match(lines.join("\n"), /^error: .*--(port|host)/);
  }
  lines.length = 0;
  assert.equal(await run([...base, "--port", String(ro.port)], io), 2);
  assert.match(
    lines.join("\n"),
    /Port \d+ is in use: pass --port with another number, or --port 0/,
  );
});
