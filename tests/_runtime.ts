// Runtime helpers for tests that spawn child processes, so the same test
// files run under `deno test` and under Node.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Whether these tests run under Deno. */
export const isDeno = "Deno" in globalThis;

/**
 * The command and leading arguments that run a test script in this runtime.
 * Under Node the tests are compiled, so `x.ts` is run as the compiled `x.js`.
 */
export function runtimeCommand(script: string): [string, string[]] {
  return isDeno
    ? [process.execPath, ["run", "--allow-all", "--unstable-kv", "--quiet", script]]
    : [process.execPath, [script.replace(/\.ts$/, ".js")]];
}

/** A fresh temporary folder; remove it with {@linkcode removeDir}. */
export function tempDir(prefix = "ms-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a folder tree, ignoring a missing one. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The result of a finished child process. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** How to run a child: folder, extra environment, stdin, and a time limit (then SIGKILL). */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** Kill the child after this many ms; its result then has signal "SIGKILL". */
  timeoutMs?: number;
}

/** Runs a script to completion and collects its output. */
export function runScript(
  script: string,
  args: string[],
  options: RunOptions = {},
): Promise<ChildResult> {
  const [cmd, lead] = runtimeCommand(script);
  return runCommand(cmd, [...lead, ...args], options);
}

/** Runs a command to completion and collects its output. */
export function runCommand(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const timer = options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("close", () => clearTimeout(timer));
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on("error", () => {}); // a child that exits without reading stdin (EPIPE)
    child.stdin.end(options.input ?? "");
  });
}

/** A child process that answers one JSON line per command line sent to it. */
export interface Child {
  /** Sends a command and waits for its one-line JSON answer. */
  send(command: unknown): Promise<unknown>;
  /** Ends the child (closes its stdin) and waits for it to exit. */
  close(): Promise<ChildResult>;
}

/** Starts a script that reads JSON commands from stdin and answers each with one JSON line. */
export function startChild(script: string, args: string[]): Child {
  const [cmd, lead] = runtimeCommand(script);
  const child = spawn(cmd, [...lead, ...args], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let buffered = "";
  const waiting: { resolve(v: unknown): void; reject(e: unknown): void }[] = [];
  const exited = new Promise<ChildResult>((resolve) =>
    child.on("close", (code, signal) => {
      for (const w of waiting.splice(0)) {
        w.reject(new Error(`child exited (code ${code}): ${stderr.trim()}`));
      }
      resolve({ code, signal, stdout, stderr });
    })
  );
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    buffered += d;
    for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const answer = JSON.parse(line) as { ok: boolean; value?: unknown; error?: string };
      const w = waiting.shift();
      if (!w) continue;
      if (answer.ok) w.resolve(answer.value);
      else w.reject(new Error(`child failed: ${answer.error}`));
    }
  });
  return {
    send(command) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(JSON.stringify(command) + "\n");
      });
    },
    close() {
      child.stdin.end();
      return exited;
    },
  };
}
