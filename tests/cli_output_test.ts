// CLI tests, part three: what the CLI shows, and what it never shows:
// passwords in URLs, and the progress bar anywhere but a terminal.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { run } from "../cli.ts";
import { location } from "../cli/_info.ts";
import { PROGRESS_DELAY_MS, progressBar } from "../cli/_progress.ts";
import { redact, redactText } from "../cli/_redact.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Runs the CLI in-process with `--dir dir` appended. */
async function cli(dir: string, args: string[], options: { tty?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...args, "--dir", dir], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    stdin: () => Promise.resolve(""),
    stderrIsTty: options.tty ?? false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

test("cli: passwords in URLs never reach the output", async () => {
  assert.equal(redact("redis://user:hunter22@host:6379/0"), "redis://user:***@host:6379/0");
  assert.equal(redact("redis://host:6379"), "redis://host:6379");
  assert.equal(
    redactText("connect rediss://:hunter22@h:1 failed; auth hunter22", "rediss://:hunter22@h:1"),
    "connect rediss://:***@h:1 failed; auth ***",
  );
  assert.deepEqual(
    location({ backend: "redis", namespace: "n", dir: "d", url: "redis://u:pw1@h:1" }),
    { display: "redis://u:***@h:1", files: null },
  );
  // Deno KV takes the URL as its path; a local file is measured on disk.
  assert.equal(
    location({ backend: "kv", namespace: "n", dir: "d", url: "https://u:pw1@kv.example/db" })
      .display,
    "https://u:***@kv.example/db",
  );
  assert.deepEqual(location({ backend: "kv", namespace: "n", dir: "d" }).files, [
    join("d", "state.kv"),
    join("d", "state.kv-wal"),
    join("d", "state.kv-shm"),
  ]);
  const dir = tempDir();
  try {
    const url = "redis://admin:hunter22@example.invalid:6379";
    const r = await cli(dir, [
      "save",
      "--key",
      "k",
      "--url",
      url,
      "--value-file",
      `${url}/missing.json`,
      "--debug",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /admin:\*\*\*@example\.invalid/);
    assert.ok(!r.err.includes("hunter22"), r.err);
    // init never stores a password; a URL without one goes in a file only its owner can read.
    const refused = await cli(dir, ["init", "--backend", "json", "--url", url, "--json"]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /Refusing to save a password.*MANAGING_STATE_URL/);
    assert.ok(!refused.err.includes("hunter22"));
    const config = join(dir, ".managing-state.json");
    assert.equal(existsSync(config), false);
    const plain = "redis://example.invalid:6379";
    const init = await cli(dir, ["init", "--backend", "json", "--url", plain, "--json"]);
    assert.equal(init.code, 0, init.err);
    assert.equal(JSON.parse(readFileSync(config, "utf8")).url, plain);
    if (process.platform !== "win32") assert.equal(statSync(config).mode & 0o777, 0o600);
  } finally {
    removeDir(dir);
  }
});

test("cli: restore draws a progress bar only on a terminal", async () => {
  const dir = tempDir();
  try {
    await cli(dir, ["save", "--key", "a", "--value", "1"]);
    await cli(dir, ["checkpoint", "--name", "cp"]);
    const piped = await cli(dir, ["restore", "--checkpoint", "cp"]);
    assert.equal(piped.code, 0);
    assert.equal(piped.err, "");
    // A quick restore on a terminal stays quiet too: the bar appears only after a moment.
    const quick = await cli(dir, ["restore", "--checkpoint", "cp"], { tty: true });
    assert.equal(quick.code, 0);
    assert.equal(quick.err, "");
  } finally {
    removeDir(dir);
  }
});

test("cli: the progress bar draws on a terminal after a moment, never elsewhere", async () => {
  const lines: string[] = [];
  const last = (): string => lines[lines.length - 1] ?? "";
  const io = (tty: boolean) => ({
    out: () => {},
    err: (t: string) => lines.push(t),
    stdin: () => Promise.resolve(""),
    stderrIsTty: tty,
  });
  const quiet = progressBar(io(false), "copying", 10);
  quiet.tick(5);
  await new Promise((r) => setTimeout(r, PROGRESS_DELAY_MS + 150));
  quiet.done();
  assert.equal(lines.length, 0);
  const bar = progressBar(io(true), "copying", 10);
  bar.tick(2);
  assert.equal(lines.length, 0, "nothing before the delay");
  await new Promise((r) => setTimeout(r, PROGRESS_DELAY_MS + 150));
  assert.match(last(), /^copying \[#{5}-{19}\] 20% 2\/10 \d+\.\ds$/);
  bar.tick(8);
  bar.done();
  // Each draw replaces the previous line: cursor up, clear line.
  const redraw = "\x1b[1A\x1b[2K";
  assert.ok(last().startsWith(`${redraw}copying [${"#".repeat(24)}] 100% 10/10 `));
  const count = lines.length;
  bar.tick();
  bar.done();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(lines.length, count, "nothing after done()");
});
