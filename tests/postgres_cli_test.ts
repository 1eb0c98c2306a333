// The CLI on PostgreSQL: `--backend postgres --url postgres://...` as `init`
// remembers it, the seed's commands, and migrate / export / import to and
// from it, in process and as a real `managing-state` process.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "../cli.ts";
import { StateManager } from "../mod.ts";
import { pgTarget, reportNoServer } from "./_pg_server.ts";
import { removeDir, runScript, tempDir } from "./_runtime.ts";

const cliChild = fileURLToPath(new URL("./_cli_child.ts", import.meta.url));
const target = await pgTarget();

async function cli(dir: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...args, "--dir", dir], {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    stdin: () => Promise.resolve(""),
    stderrIsTty: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

if (typeof target === "string") {
  reportNoServer("postgres cli", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;
  // Each test its own namespace in the default schema (the CLI has no schema flag).
  const ns = () => `cli-${crypto.randomUUID().slice(0, 8)}`;
  const clear = async (namespace: string) => {
    const s = await StateManager.open({ backend: "postgres", url, namespace });
    await s.clear();
    await s.close();
  };

  test("cli: init --backend postgres --url, then the seed's commands on it", async () => {
    const dir = tempDir();
    const namespace = ns();
    try {
      const init = await cli(
        dir,
        "init",
        "--backend",
        "postgres",
        "--url",
        url,
        "--namespace",
        namespace,
      );
      assert.equal(init.code, 0, init.err);
      assert.equal((await cli(dir, "save", "--key", "phase", "--value", "building")).code, 0);
      assert.equal((await cli(dir, "load", "--key", "phase")).out, '"building"');
      assert.equal((await cli(dir, "checkpoint", "--name", "after_planning")).code, 0);
      await cli(dir, "save", "--key", "phase", "--value", "testing");
      assert.equal((await cli(dir, "restore", "--checkpoint", "after_planning")).code, 0);
      assert.equal((await cli(dir, "load", "--key", "phase")).out, '"building"');
      const keys = await cli(dir, "keys", "--json");
      assert.deepEqual(JSON.parse(keys.out).keys, ["phase"]);
      const info = await cli(dir, "info", "--json");
      assert.equal(info.code, 0, info.err);
      assert.match(info.out, /postgres/);
      const missing = await cli(dir, "load", "--key", "nope");
      assert.equal(missing.code, 3);
    } finally {
      await clear(namespace);
      removeDir(dir);
    }
  });

  test("cli: migrate json -> postgres -> sqlite, verified, and export/import through postgres", async () => {
    const dir = tempDir();
    const namespace = ns();
    try {
      await cli(dir, "init", "--backend", "json", "--namespace", namespace);
      await cli(dir, "save", "--key", "phase", "--value", "building");
      await cli(dir, "save", "--key", "n", "--value", "7");
      await cli(dir, "checkpoint", "--name", "after_planning");
      const to = await cli(
        dir,
        "migrate",
        "--from",
        "json",
        "--to",
        "postgres",
        "--to-url",
        url,
        "--json",
      );
      assert.equal(to.code, 0, to.err);
      const report = JSON.parse(to.out);
      assert.deepEqual([report.keys, report.checkpoints, report.verified], [2, 1, true]);
      const back = await cli(
        dir,
        "migrate",
        "--from",
        "postgres",
        "--from-url",
        url,
        "--to",
        "sqlite",
        "--to-path",
        join(dir, "copy.db"),
        "--namespace",
        namespace,
      );
      assert.equal(back.code, 0, back.err);
      assert.match(back.out, /verified$/);
      const file = join(dir, "export.json");
      const exported = await cli(
        dir,
        "export",
        "--backend",
        "postgres",
        "--url",
        url,
        "--namespace",
        namespace,
        "--file",
        file,
      );
      assert.equal(exported.code, 0, exported.err);
      await clear(namespace);
      const imported = await cli(
        dir,
        "import",
        "--backend",
        "postgres",
        "--url",
        url,
        "--file",
        file,
      );
      assert.equal(imported.code, 0, imported.err);
      const s = await StateManager.open({ backend: "postgres", url, namespace });
      assert.deepEqual(await s.loadMany(["phase", "n"]), { phase: "building", n: 7 });
      assert.deepEqual((await s.listCheckpoints()).map((c) => c.name), ["after_planning"]);
      await s.close();
    } finally {
      await clear(namespace);
      removeDir(dir);
    }
  });

  test("cli: a real managing-state process on postgres, and a clear error for a dead server", async () => {
    const dir = tempDir();
    const namespace = ns();
    try {
      const common = [
        "--backend",
        "postgres",
        "--url",
        url,
        "--namespace",
        namespace,
        "--dir",
        dir,
      ];
      const child = async (args: string[]) => {
        const r = await runScript(cliChild, [JSON.stringify(args)]);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as { code: number; out: string; err: string };
      };
      assert.equal((await child(["save", "--key", "k", "--value", "v", ...common])).code, 0);
      assert.equal((await child(["load", "--key", "k", ...common])).out, '"v"');
      const dead = "postgres://me:hunter22@127.0.0.1:1/db";
      const failed = await child(["load", "--key", "k", "--backend", "postgres", "--url", dead]);
      assert.equal(failed.code, 1);
      assert.match(
        failed.err,
        /^error: PostgreSQL could not read .*ECONNREFUSED.*server is running/,
      );
      assert.doesNotMatch(failed.err + failed.out, /hunter22/);
    } finally {
      await clear(namespace);
      removeDir(dir);
    }
  });
}
