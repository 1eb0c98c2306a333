// The CLI's migrate, export and import: the seed's command line, per-side
// locations, --json reports, exit codes, usage errors and the progress bar.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run } from "../cli.ts";
import { migrationProgress } from "../cli/_migrate_commands.ts";
import { PROGRESS_DELAY_MS } from "../cli/_progress.ts";
import { exportState, StateManager } from "../mod.ts";
import { removeDir, tempDir } from "./_runtime.ts";

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

test("cli: migrate --from json --to sqlite as the seed writes it, then a dry run and a re-run", async () => {
  const dir = tempDir();
  try {
    await cli(dir, "init", "--backend", "json", "--namespace", "workflow-123");
    await cli(dir, "save", "--key", "phase", "--value", "building");
    await cli(dir, "checkpoint", "--name", "after_planning");
    const m = await cli(dir, "migrate", "--from", "json", "--to", "sqlite");
    assert.equal(m.code, 0, m.err);
    assert.equal(m.err, "", "no progress bar when stderr is not a terminal");
    assert.match(
      m.out,
      /^Migrated 1 namespaces, 1 keys \(1 written\), 1 checkpoints, 15 B from json to sqlite in \d+\.\d s; verified$/,
    );
    assert.equal(
      (await cli(dir, "load", "--key", "phase", "--backend", "sqlite")).out,
      '"building"',
    );
    const again = await cli(dir, "migrate", "--from", "json", "--to", "sqlite", "--json");
    const report = JSON.parse(again.out);
    assert.deepEqual([report.written, report.verified, report.dryRun], [0, true, false]);
    assert.equal(report.namespaces[0].sourceHash, report.namespaces[0].targetHash);
    await cli(dir, "save", "--key", "phase", "--value", "testing", "--backend", "sqlite");
    const dry = await cli(dir, "migrate", "--from", "json", "--to", "sqlite", "--dry-run");
    assert.equal(dry.code, 0);
    assert.match(
      dry.out,
      /^Would copy 1 namespaces, 1 keys \(0 written\).*\(dry run: nothing written\)/,
    );
    assert.match(dry.out, /skipped key "phase" in workflow-123: it differs in the target/);
  } finally {
    removeDir(dir);
  }
});

test("cli: migrate between two places with --from-dir/--to-dir and --to-path, one --namespace", async () => {
  const dir = tempDir();
  try {
    const a = join(dir, "a");
    for (const ns of ["one", "two"]) {
      const s = await StateManager.open({ backend: "json", dir: a, namespace: ns });
      await s.save("k", ns);
      await s.close();
    }
    const r = await cli(
      dir,
      ...["migrate", "--from", "json", "--from-dir", a, "--to", "json", "--to-dir", join(dir, "b")],
      ...["--namespace", "two"],
    );
    assert.equal(r.code, 0, r.err);
    const b = await StateManager.open({ backend: "json", dir: join(dir, "b"), namespace: "two" });
    assert.deepEqual(await b.listNamespaces(), ["two"]);
    assert.equal(await b.load("k"), "two");
    await b.close();
    const path = join(dir, "x.db");
    const r2 = await cli(
      dir,
      "migrate",
      "--from",
      "json",
      "--from-dir",
      a,
      "--to",
      "sqlite",
      "--to-path",
      path,
    );
    assert.equal(r2.code, 0, r2.err);
    const x = await StateManager.open({ backend: "sqlite", path, namespace: "one" });
    assert.deepEqual(await x.listNamespaces(), ["one", "two"]);
    await x.close();
  } finally {
    removeDir(dir);
  }
});

test("cli: a copy that differs exits 1 naming the key; --overwrite replaces it", async () => {
  const dir = tempDir();
  try {
    await cli(dir, "save", "--key", "phase", "--value", "building");
    await cli(dir, "save", "--key", "phase", "--value", "theirs", "--backend", "sqlite");
    const r = await cli(dir, "migrate", "--from", "json", "--to", "sqlite", "--json");
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^error: The copy in sqlite does not match json: namespace "default": 1 differing keys kept \("phase"\)\. Run again with --overwrite/,
    );
    assert.deepEqual(
      JSON.parse(r.out).namespaces[0].skippedKeys,
      ["phase"],
      "--json prints the report",
    );
    const o = await cli(dir, "migrate", "--from", "json", "--to", "sqlite", "--overwrite");
    assert.equal(o.code, 0, o.err);
    assert.equal(
      (await cli(dir, "load", "--key", "phase", "--backend", "sqlite")).out,
      '"building"',
    );
  } finally {
    removeDir(dir);
  }
});

test("cli: export to a file and to stdout, import it elsewhere, verified", async () => {
  const dir = tempDir();
  try {
    await cli(dir, "save", "--key", "phase", "--value", "building", "--namespace", "wf");
    await cli(dir, "checkpoint", "--name", "cp", "--namespace", "wf");
    const file = join(dir, "e.jsonl");
    const e = await cli(dir, "export", "--file", file);
    assert.equal(e.code, 0, e.err);
    assert.equal(e.out, `Exported 1 namespaces, 1 keys, 1 checkpoints to ${file}`);
    const stdout = await cli(dir, "export", "--file", "-");
    // The same bytes: an export holds no time of its own.
    assert.equal(stdout.out + "\n", readFileSync(file, "utf8"));
    assert.equal(stdout.out.split("\n").length, 6);
    const path = join(dir, "other.db");
    const dry = await cli(
      dir,
      "import",
      "--file",
      file,
      "--backend",
      "sqlite",
      "--path",
      path,
      "--dry-run",
    );
    assert.match(dry.out, /^Would copy 1 namespaces, 1 keys \(1 written\), 1 checkpoints/);
    const i = await cli(
      dir,
      "import",
      "--file",
      file,
      "--backend",
      "sqlite",
      "--path",
      path,
      "--json",
    );
    assert.equal(i.code, 0, i.err);
    assert.equal(JSON.parse(i.out).verified, true);
    const s = await StateManager.open({ backend: "sqlite", path, namespace: "wf" });
    assert.equal(await s.load("phase"), "building");
    assert.deepEqual((await s.listCheckpoints()).map((c) => c.name), ["cp"]);
    await s.close();
  } finally {
    removeDir(dir);
  }
});

test("cli: bad arguments and bad files are usage errors (exit 2) that say what to fix", async () => {
  const dir = tempDir();
  try {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"format":"managing-state/export","version":1}\n{"type":"namespace"\n');
    const cases: [string[], RegExp][] = [
      [
        ["migrate", "--from", "json"],
        /Give both --from and --to \(e\.g\. migrate --from json --to sqlite\)/,
      ],
      [["migrate", "--to", "json"], /Give both --from and --to/],
      [["migrate", "--from", "json", "--to", "nosuch"], /Unknown backend "nosuch"/],
      [
        ["migrate", "--from", "json", "--to", "sqlite", "--namespace", "../x"],
        /Namespace "..\/x" is invalid/,
      ],
      [
        ["migrate", "--from", "json", "--to", "sqlite", "--to-nowhere", "x"],
        /Unknown option '--to-nowhere'/,
      ],
      [["export"], /Missing --file/],
      [["import"], /Missing --file/],
      [
        ["import", "--file", join(dir, "missing.jsonl")],
        /Cannot read export file .*missing\.jsonl/,
      ],
      [["import", "--file", bad], /bad\.jsonl line 2: not valid JSON/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(dir, ...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.err.split("\n").length, 1, "one line");
    }
  } finally {
    removeDir(dir);
  }
});

test("cli: the migration progress bar draws on a terminal only", async () => {
  for (const tty of [true, false]) {
    const lines: string[] = [];
    const io = {
      out: () => {},
      err: (t: string) => void lines.push(t),
      stdin: () => Promise.resolve(""),
      stderrIsTty: tty,
    };
    const p = migrationProgress(io, "migrating");
    p.onProgress({ namespace: "wf", phase: "keys", done: 0, total: 1000 });
    await new Promise((r) => setTimeout(r, PROGRESS_DELAY_MS + 50));
    p.onProgress({ namespace: "wf", phase: "keys", done: 500, total: 1000 });
    p.onProgress({ namespace: "wf", phase: "checkpoints", done: 1, total: undefined });
    p.done();
    if (!tty) assert.deepEqual(lines, []);
    else assert.match(lines.at(-1)!, /migrating wf \[#{12}-{12}\] 50% 500\/1000 \d+\.\ds$/);
  }
});

test("cli: migrate draws a progress bar on a terminal only; export reports progress", async () => {
  const dir = tempDir();
  try {
    const s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
    for (let b = 0; b < 40; b++) {
      await s.saveMany(
        Object.fromEntries(
          Array.from({ length: 1000 }, (_, i) => [`k${b}-${i}`, { pad: "x".repeat(200) }]),
        ),
      );
    }
    await s.close();
    const cli = async (tty: boolean, ...args: string[]) => {
      const err: string[] = [];
      const code = await run([...args, "--dir", dir], {
        out: () => {},
        err: (t) => void err.push(t),
        stdin: () => Promise.resolve(""),
        stderrIsTty: tty,
        progressDelayMs: 0, // draw at once: how fast the copy runs must not decide the test
      });
      return { code, err: err.join("\n") };
    };
    const piped = await cli(false, "migrate", "--from", "json", "--to", "sqlite");
    assert.equal(piped.code, 0, piped.err);
    assert.equal(piped.err, "");
    const tty = await cli(
      true,
      "migrate",
      "--from",
      "json",
      "--to",
      "sqlite",
      "--path",
      join(dir, "b.db"),
    );
    assert.equal(tty.code, 0, tty.err);
    assert.match(tty.err, /migrating wf \[#+-*\] \d+% \d+\/40000/);
    assert.match(tty.err, /100% 40000\/40000/);
    // Export feeds the same bar (it draws once an operation has run for 200 ms).
    const events: { done: number; total: number | undefined }[] = [];
    await exportState({
      from: { backend: "json", dir },
      to: () => {},
      onProgress: (e) => void events.push(e),
    });
    assert.deepEqual(events.at(-1), { namespace: "wf", phase: "keys", done: 40000, total: 40000 });
  } finally {
    removeDir(dir);
  }
});
