// The CLI's safe updates as real processes racing on one store: 8 workers x 50
// `incr` end at exactly 400, and of 8 `save --if-absent` exactly one wins, on
// json, sqlite, kv and redis. Under Node the workers run fewer increments
// (MS_CLI_RACE_INCREMENTS, default 10): every one is a Node start-up. Also:
// output piped into a reader that stops early ends quietly.
import assert from "node:assert/strict";
import process from "node:process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ChildResult, isDeno, removeDir, runCommand, runScript, tempDir } from "./_runtime.ts";
import { redisTarget } from "./_redis_server.ts";

const cliPath = fileURLToPath(new URL("../cli.ts", import.meta.url));
const WORKERS = 8;
const INCREMENTS = Number(process.env.MS_CLI_RACE_INCREMENTS ?? (isDeno ? 50 : 10));

const redis = await redisTarget();
after(() => typeof redis === "object" ? redis.server?.stop() : undefined);

/** The global flags that put each backend's data in `dir` (Redis: on the test server). */
const BACKENDS: Record<string, (dir: string) => string[]> = {
  json: (dir) => ["--backend", "json", "--dir", dir],
  sqlite: (dir) => ["--backend", "sqlite", "--dir", dir],
  kv: (dir) => ["--backend", "kv", "--dir", dir],
};
if (typeof redis === "object") {
  BACKENDS.redis = (dir) => ["--backend", "redis", "--url", redis.url, "--dir", dir];
} else {
  console.warn(`WARNING: the CLI race tests leave out redis: ${redis}`);
}

function cli(args: string[]): Promise<ChildResult> {
  return runScript(cliPath, args, { timeoutMs: 120_000 });
}

for (const [backend, flagsFor] of Object.entries(BACKENDS)) {
  test(
    `cli: ${backend}: ${WORKERS} processes x ${INCREMENTS} incr end at exactly ${
      WORKERS * INCREMENTS
    }`,
    async () => {
      const dir = tempDir();
      // A namespace of its own: the Redis server is shared by the test files.
      const ns = ["--namespace", `race-${crypto.randomUUID().slice(0, 8)}`];
      const flags = [...flagsFor(dir), ...ns];
      try {
        await Promise.all(Array.from({ length: WORKERS }, async () => {
          for (let i = 0; i < INCREMENTS; i++) {
            const r = await cli(["incr", "--key", "counter", ...flags]);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /^\d+\n$/, `exit ${r.code}, stderr: ${r.stderr}`);
          }
        }));
        const total = await cli(["load", "--key", "counter", ...flags]);
        assert.equal(total.stdout, `${WORKERS * INCREMENTS}\n`, total.stderr);
      } finally {
        await cli(["delete", "--yes", ...flags]);
        removeDir(dir);
      }
    },
  );

  test(`cli: ${backend}: ${WORKERS} processes racing save --if-absent: exactly one wins`, async () => {
    const dir = tempDir();
    const ns = ["--namespace", `claim-${crypto.randomUUID().slice(0, 8)}`];
    const flags = [...flagsFor(dir), ...ns];
    try {
      const results = await Promise.all(
        Array.from(
          { length: WORKERS },
          (_, i) =>
            cli([
              "save",
              "--key",
              "task:1",
              "--value",
              `w${i}`,
              "--if-absent",
              "--ttl-ms",
              "600000",
              ...flags,
            ]),
        ),
      );
      const winners = results.flatMap((r, i) => r.code === 0 ? [i] : []);
      assert.equal(winners.length, 1, results.map((r) => `${r.code} ${r.stderr}`).join("\n"));
      for (const r of results) {
        if (r.code !== 0) {
          assert.equal(r.code, 4, r.stderr);
          assert.match(r.stderr, /^error: Key "task:1" in namespace "claim-\w+" already exists/);
        }
      }
      const held = await cli(["load", "--key", "task:1", ...flags]);
      assert.equal(held.stdout, `"w${winners[0]}"\n`);
    } finally {
      await cli(["delete", "--yes", ...flags]);
      removeDir(dir);
    }
  });
}

test("cli: output piped into a reader that stops early ends quietly (exit 0, nothing on stderr)", async () => {
  const dir = tempDir();
  try {
    const values = Object.fromEntries(
      Array.from({ length: 5000 }, (_, i) => [`key-${String(i).padStart(5, "0")}`, "x".repeat(64)]),
    );
    const [cmd, lead] = isDeno
      ? [process.execPath, ["run", "--allow-all", "--unstable-kv", "--quiet", cliPath]]
      : [process.execPath, [cliPath.replace(/\.ts$/, ".js")]];
    const base = [cmd, ...lead].map(quote).join(" ");
    const put = await runCommand(
      "bash",
      ["-c", `${base} save --values - --dir ${quote(dir)}`],
      { input: JSON.stringify(values) },
    );
    assert.equal(put.code, 0, put.stderr);
    for (const command of ["keys", "dump", "export --file -", "keys --json"]) {
      const r = await runCommand("bash", [
        "-c",
        `set -o pipefail; ${base} ${command} --dir ${quote(dir)} | head -2`,
      ]);
      assert.equal(r.code, 0, `${command}: exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stderr, "", `${command} printed: ${r.stderr}`);
      assert.equal(r.stdout.split("\n").length, 3, r.stdout);
    }
  } finally {
    removeDir(dir);
  }
});

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
