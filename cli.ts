/**
 * The `managing-state` command line: save, load, checkpoint and restore
 * workflow state from a shell.
 *
 * ```sh
 * deno run -A cli.ts init --backend json --namespace workflow-123
 * deno run -A cli.ts save --key phase --value building
 * deno run -A cli.ts load --key phase
 * ```
 *
 * Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 not found (key or
 * checkpoint), 4 conflict; `step` exits with its command's exit code.
 *
 * @example Run a command in-process
 * ```ts
 * import { run } from "./cli.ts";
 *
 * const lines: string[] = [];
 * const code = await run(["load", "--backend", "memory", "--key", "x", "--default", "0"], {
 *   out: (t) => lines.push(t),
 *   err: () => {},
 *   stdin: () => Promise.resolve(""),
 *   stderrIsTty: false,
 * });
 * console.assert(code === 0 && lines[0] === "0");
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { COMMANDS } from "./cli/_commands.ts";
import { type Io, safe } from "./cli/_context.ts";
import { resolveSettings } from "./cli/_config.ts";
import { EXIT, GLOBAL_OPTIONS, optionLines, UsageError } from "./cli/_usage.ts";
import { redactText } from "./cli/_redact.ts";
import { canCheckProcesses } from "./cli/_platform.ts";
import {
  BackendError,
  CheckpointExistsError,
  CheckpointNotFoundError,
  ConflictError,
  KeyNotFoundError,
  StateError,
} from "./errors.ts";

export type { Io } from "./cli/_context.ts";

/** Runs one CLI invocation and returns its exit code. */
export async function run(args: string[], io: Io): Promise<number> {
  const [name, ...rest] = commandFirst(args);
  let debug = rest.includes("--debug");
  let url: string | undefined;
  try {
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      io.out(mainHelp());
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) {
      throw new UsageError(
        name.startsWith("-")
          ? `No command given before ${name}: run "--help" to list commands`
          : `Unknown command ${JSON.stringify(name)}: run "--help" to list commands`,
      );
    }
    // A command that runs a command line takes it after "--", unparsed.
    const dashes = command.passthrough ? rest.indexOf("--") : -1;
    const passthrough = dashes === -1 ? undefined : rest.slice(dashes + 1);
    let parsed;
    try {
      parsed = parseArgs({
        args: dashes === -1 ? rest : rest.slice(0, dashes),
        options: { ...GLOBAL_OPTIONS, ...command.options },
        strict: true,
        allowPositionals: false,
      });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split("\n")[0]} (see "${name} --help")`);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    debug = values.debug === true;
    if (values.help) {
      io.out(commandHelp(name));
      return EXIT.ok;
    }
    const str = (k: string) => (typeof values[k] === "string" ? values[k] as string : undefined);
    const settings = resolveSettings({
      backend: str("backend"),
      namespace: str("namespace"),
      dir: str("dir"),
      url: str("url"),
      path: str("path"),
    });
    url = settings.url;
    const code = await command.run({
      settings,
      values,
      json: values.json === true,
      io,
      ...(passthrough ? { passthrough } : {}),
    });
    return code ?? EXIT.ok;
  } catch (error) {
    // Credentials never reach the terminal, whatever a driver put in its message.
    const line = describeError(error).replace(/\s*\n\s*/g, " "); // one line, always
    io.err(safe(redactText(`error: ${line}`, url)));
    if (debug && error instanceof Error && error.stack) {
      io.err(safe(redactText(error.stack, url), true));
    }
    return exitCode(error);
  }
}

/**
 * Moves the command name to the front, so global options may come before it
 * (`--namespace wf load --key k`). Without a command, args are unchanged.
 */
function commandFirst(args: string[]): string[] {
  let i = 0;
  while (i < args.length && args[i]!.startsWith("-") && args[i] !== "--help" && args[i] !== "-h") {
    const option = GLOBAL_OPTIONS[args[i]!.slice(2)];
    if (!option) return args; // not a global option: let the parser name the problem
    i += option.type === "string" ? 2 : 1; // "--name=value" is kept out by the "!option" above
  }
  if (i === 0 || i >= args.length) return args;
  return [args[i]!, ...args.slice(0, i), ...args.slice(i + 1)];
}

function describeError(error: unknown): string {
  if (error instanceof KeyNotFoundError) {
    return `Key ${JSON.stringify(error.key)} not found in namespace ${
      JSON.stringify(error.namespace)
    }. Run "keys" to list keys.`;
  }
  if (error instanceof CheckpointNotFoundError) {
    return `${error.message.split(" (")[0]}. Run "checkpoints" to list them.`;
  }
  if (
    error instanceof BackendError && /waiting for the lock/.test(error.message) &&
    !canCheckProcesses()
  ) {
    return `${error.message}. Deno did not allow checking whether that process is alive: ` +
      `add --allow-run, or wait, since a lock is broken a minute after it was taken`;
  }
  if (isPermissionError(error)) {
    return `${(error as Error).message.split("\n")[0]} (the "cli" task grants access to ` +
      `.claude/ only: see "Permissions" in the README)`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Whether Deno refused a permission (NotCapable in Deno 2, PermissionDenied before). */
function isPermissionError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === "NotCapable" || e.name === "PermissionDenied") return true;
  }
  return false;
}

/** The exit code for an error. */
export function exitCode(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof KeyNotFoundError || error instanceof CheckpointNotFoundError) {
    return EXIT.notFound;
  }
  if (error instanceof ConflictError || error instanceof CheckpointExistsError) {
    return EXIT.conflict;
  }
  if (error instanceof StateError && error.code === "VALIDATION") return EXIT.usage;
  return EXIT.error;
}

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "managing-state: workflow state that survives crashes",
    "",
    "Usage: managing-state <command> [options]",
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`),
    "",
    "Options for every command:",
    optionLines(GLOBAL_OPTIONS),
    "",
    "Settings come from flags, then MANAGING_STATE_BACKEND / _NAMESPACE / _DIR / _URL / _PATH,",
    'then what "init" saved, then defaults.',
    "Exit codes: 0 ok, 1 error, 2 usage error, 3 not found, 4 conflict (step: its command's).",
    'Run "<command> --help" for a command\'s options.',
  ].join("\n");
}

function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  return [
    `${c.summary}`,
    "",
    `Usage: managing-state ${c.usage}`,
    ...(Object.keys(c.options).length ? ["", "Options:", optionLines(c.options)] : []),
    "",
    "Options for every command:",
    optionLines(GLOBAL_OPTIONS),
  ].join("\n");
}

async function readStdin(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of process.stdin) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
  }
  return text + decoder.decode();
}

/** Runs the CLI with this process's arguments and exits. */
export async function main(): Promise<void> {
  const code = await run(process.argv.slice(2), {
    out: (text) => process.stdout.write(text + "\n"),
    err: (text) => process.stderr.write(text + "\n"),
    stdin: readStdin,
    stderrIsTty: process.stderr.isTTY === true,
  });
  process.exitCode = code;
}

if (import.meta.main) await main();
