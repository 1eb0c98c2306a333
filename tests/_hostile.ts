// Helpers for the hostile-input tests: a CLI command in a child process with
// a time limit, and a check that file names are portable.
import assert from "node:assert/strict";
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runScript } from "./_runtime.ts";

const child = fileURLToPath(new URL("./_cli_child.ts", import.meta.url));

/** What a CLI command printed, and its exit code. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs a CLI command in a child process; fails the test if it does not finish within `timeoutMs`. */
export async function cliWithin(
  args: string[],
  options: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const r = await runScript(child, [JSON.stringify(args)], { ...options, timeoutMs });
  assert.notEqual(
    r.signal,
    "SIGKILL",
    `"${args.join(" ")}" did not finish within ${timeoutMs} ms (killed): ${r.stderr}`,
  );
  assert.equal(r.code, 0, `the child failed: ${r.stderr}`);
  const line = r.stdout.trim().split("\n").at(-1)!;
  return JSON.parse(line) as CliResult;
}

const DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/**
 * Names under `dir` that would clash or break on a case-insensitive or
 * Windows file system: two names in a folder equal but for case, Windows
 * device names (whatever the extension), and names ending in a dot or space.
 */
export function portabilityProblems(dir: string): string[] {
  const problems: string[] = [];
  const walk = (d: string) => {
    const seen = new Map<string, string>();
    for (const name of readdirSync(d)) {
      const folded = name.toLowerCase();
      const other = seen.get(folded);
      if (other !== undefined) problems.push(`${d}: "${other}" and "${name}" differ only in case`);
      seen.set(folded, name);
      if (DEVICE.test(folded.split(".")[0]!)) problems.push(`${join(d, name)} is a device name`);
      if (/[. ]$/.test(name)) problems.push(`${join(d, name)} ends with a dot or space`);
      if (lstatSync(join(d, name)).isDirectory()) walk(join(d, name));
    }
  };
  walk(dir);
  return problems;
}
