// The CLI's runtime seam: what differs between Deno and Node.

/**
 * Whether this process may ask if another process is alive (`process.kill(pid, 0)`).
 * Deno allows that only with --allow-run; Node always does.
 */
export function canCheckProcesses(): boolean {
  const deno = (globalThis as {
    Deno?: { permissions?: { querySync?(d: { name: "run" }): { state: string } } };
  }).Deno;
  const state = deno?.permissions?.querySync?.({ name: "run" }).state;
  return state === undefined || state === "granted";
}

interface DenoIo {
  version?: unknown;
  args: string[];
  exitCode: number;
  stdout: { writeSync(p: Uint8Array): number };
  stderr: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  stdin: { readable: AsyncIterable<Uint8Array> };
}

interface NodeIo {
  argv: string[];
  exitCode?: number | string;
  exit(code?: number): never;
  stdout: { write(text: string): boolean; on(event: "error", fn: (e: unknown) => void): void };
  stderr: { write(text: string): boolean; isTTY?: boolean };
  stdin: AsyncIterable<Uint8Array>;
}

// On Deno its own I/O: touching Node's `process` there loads node: modules
// that cost more than a CLI call's own work.
const deno = (globalThis as { Deno?: DenoIo }).Deno;
const denoIo = deno?.version !== undefined ? deno : undefined;
const node = () => (globalThis as unknown as { process: NodeIo }).process;

/** The command line arguments after the program. */
export function programArgs(): string[] {
  return denoIo ? denoIo.args : node().argv.slice(2);
}

/** Sets the exit code the process ends with. */
export function setExitCode(code: number): void {
  if (denoIo) denoIo.exitCode = code;
  else node().exitCode = code;
}

/** Whether stderr is a terminal. */
export function stderrIsTty(): boolean {
  return denoIo ? denoIo.stderr.isTerminal() : node().stderr.isTTY === true;
}

/** Standard input as byte chunks. */
export function stdinChunks(): AsyncIterable<Uint8Array> {
  return denoIo ? denoIo.stdin.readable : node().stdin;
}

const encoder = new TextEncoder();

function writeAllSync(out: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length;) off += out.writeSync(bytes.subarray(off));
}

/** Writes to stderr. */
export function writeStderr(text: string): void {
  if (denoIo) writeAllSync(denoIo.stderr, text);
  else node().stderr.write(text);
}

/**
 * Writes to stdout. A reader that went away throws (Deno: BrokenPipe) or,
 * on Node, reaches `onLateError` (EPIPE) after the write returned.
 */
export function writeStdout(text: string): void {
  if (denoIo) writeAllSync(denoIo.stdout, text);
  else node().stdout.write(text);
}

/** Calls `fn` with stdout errors reported after a write returned (Node only). */
export function onStdoutError(fn: (error: unknown) => void): void {
  if (!denoIo) node().stdout.on("error", fn);
}

/** Ends the process now with the exit code set so far (Node only: Deno reports at once). */
export function exitWithCode(): never {
  const p = node();
  return p.exit(typeof p.exitCode === "number" ? p.exitCode : 0);
}
