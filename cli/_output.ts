// What the CLI writes, seen from the process: stdout that may close early
// (`keys | head`), and the settings in effect shown by `--help`.
import { exitWithCode, onStdoutError, writeStdout } from "./_platform.ts";
import { settingSources } from "./_config.ts";

/** Thrown by a write to stdout after its reader went away: the command stops quietly. */
export class OutputClosed extends Error {
  /** Creates the signal. */
  constructor() {
    super("stdout was closed by its reader");
    this.name = "OutputClosed";
  }
}

/** Whether an error says the reader of a pipe went away. */
export function isBrokenPipe(error: unknown): boolean {
  const e = error as { code?: string; name?: string } | null;
  return e?.code === "EPIPE" || e?.name === "BrokenPipe";
}

/**
 * A writer for stdout that ends quietly, as Unix tools do, when the reader
 * stops early (`export --file - | head -5`): later writes throw
 * {@linkcode OutputClosed}, which stops the command without a message, and
 * an EPIPE reported after the last write ends the process with its exit code.
 */
export function stdoutWriter(): (text: string) => void {
  let closed = false;
  onStdoutError((error: unknown) => {
    if (!isBrokenPipe(error)) throw error;
    closed = true;
    exitWithCode();
  });
  return (text) => {
    if (closed) throw new OutputClosed();
    try {
      writeStdout(text + "\n");
    } catch (error) {
      if (!isBrokenPipe(error)) throw error;
      closed = true;
      throw new OutputClosed();
    }
  };
}

/**
 * For `--help`: each global option's value in effect and where it comes
 * from (flag, environment, `init`, default), e.g. `now: sqlite, from init`.
 */
export function settingsInEffect(
  flags: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, s] of Object.entries(settingSources(flags))) {
    out[name] = s.value === undefined ? "now: not set" : `now: ${s.value}, from ${s.from}`;
  }
  return out;
}
