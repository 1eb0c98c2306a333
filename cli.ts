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
import { parseArgs } from "./cli/_args.ts";
import { COMMANDS } from "./cli/_commands.ts";
import { type Io, safe } from "./cli/_context.ts";
import { resolveSettings } from "./cli/_config.ts";
import { EXIT, GLOBAL_OPTIONS, optionLines, UsageError } from "./cli/_usage.ts";
import { redactText } from "./cli/_redact.ts";
import { describeError, exitCode } from "./cli/_errors.ts";
import { OutputClosed, settingsInEffect, stdoutWriter } from "./cli/_output.ts";
import {
  programArgs,
  setExitCode,
  stderrIsTty,
  stdinChunks,
  writeStderr,
} from "./cli/_platform.ts";

export type { Io } from "./cli/_context.ts";
export { exitCode } from "./cli/_errors.ts";

/** Runs one CLI invocation and returns its exit code. */
export async function run(args: string[], io: Io): Promise<number> {
  const [name, ...rest] = commandFirst(args);
  let debug = rest.includes("--debug");
  let url: string | undefined;
  try {
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      io.out(mainHelp(settingNotes({})));
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
        args: joinNegativeNumbers(dashes === -1 ? rest : rest.slice(0, dashes)),
        options: { ...GLOBAL_OPTIONS, ...command.options },
        strict: true,
        allowPositionals: false,
      });
    } catch (error) {
      const message = (error as Error).message;
      // "--by -2" reads as a missing value: say how to write a value that starts with a dash.
      const dash = /use '(--[\w-]+)=-XYZ'/.exec(message);
      throw new UsageError(
        dash
          ? `${dash[1]} takes a value starting with "-" only as ${dash[1]}=-VALUE (e.g. ${
            dash[1]
          }=-2)`
          : `${message.split("\n")[0]} (see "${name} --help")`,
      );
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    debug = values.debug === true;
    const str = (k: string) => (typeof values[k] === "string" ? values[k] as string : undefined);
    const flags = {
      backend: str("backend"),
      namespace: str("namespace"),
      dir: str("dir"),
      url: str("url"),
      path: str("path"),
    };
    if (values.help) {
      io.out(commandHelp(name, settingNotes(flags)));
      return EXIT.ok;
    }
    const settings = resolveSettings(flags);
    url = settings.url;
    const code = await command.run({
      settings,
      values,
      json: values.json === true,
      io,
      ...(passthrough ? { passthrough } : {}),
    });
    // Only a number is an exit code (a command's last expression may be anything).
    return typeof code === "number" ? code : EXIT.ok;
  } catch (error) {
    // The reader of stdout went away (`keys | head`): stop quietly, as Unix tools do.
    if (error instanceof OutputClosed) return EXIT.ok;
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

/**
 * `--by -2` as `--by=-2`: a value that is a negative number is never a flag,
 * but the parser would take it for one.
 */
function joinNegativeNumbers(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (/^--[\w-]+$/.test(args[i]!) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]!);
  }
  return out;
}

/** The settings in effect, for help; never an error (help must work everywhere). */
function settingNotes(flags: Record<string, string | undefined>): Record<string, string> {
  try {
    return settingsInEffect(flags);
  } catch {
    return {};
  }
}

function mainHelp(notes: Record<string, string>): string {
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
    optionLines(GLOBAL_OPTIONS, notes),
    "",
    "Settings come from flags, then MANAGING_STATE_BACKEND / _NAMESPACE / _DIR / _URL / _PATH,",
    'then what "init" saved, then defaults.',
    "Exit codes: 0 ok, 1 error, 2 usage error, 3 not found, 4 conflict (step: its command's).",
    'Run "<command> --help" for a command\'s options.',
  ].join("\n");
}

function commandHelp(name: string, notes: Record<string, string>): string {
  const c = COMMANDS[name]!;
  return [
    `${c.summary}`,
    "",
    `Usage: managing-state ${c.usage}`,
    ...(Object.keys(c.options).length ? ["", "Options:", optionLines(c.options)] : []),
    "",
    "Options for every command:",
    optionLines(GLOBAL_OPTIONS, notes),
    "",
    "[now: ...] is the setting in effect: flag, then environment, then init, then default.",
  ].join("\n");
}

async function readStdin(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stdinChunks()) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
  }
  return text + decoder.decode();
}

/** Runs the CLI with this process's arguments and exits. */
export async function main(): Promise<void> {
  const code = await run(programArgs(), {
    out: stdoutWriter(),
    err: (text) => writeStderr(text + "\n"),
    stdin: readStdin,
    stderrIsTty: stderrIsTty(),
  });
  setExitCode(code);
}

if (import.meta.main) await main();
