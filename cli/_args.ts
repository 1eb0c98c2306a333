// The command line parser: node:util's parseArgs as the CLI calls it
// (strict, long options, no positionals), with its messages, so the CLI
// needs no node: module on Deno (loading node:util costs more there than
// parsing does).

/** An option's type, as in node:util's parseArgs. */
export interface OptionSpec {
  type: "string" | "boolean";
}

/** The parsed options: a string or true per option given (the last one wins). */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `args` strictly, as `parseArgs({ args, options, strict: true, allowPositionals: false })`. */
export function parseArgs(
  { args, options }: {
    args: string[];
    options: Record<string, OptionSpec>;
    strict: true;
    allowPositionals: false;
  },
): ParsedArgs {
  const values: Record<string, string | boolean | undefined> = Object.create(null);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      if (i + 1 < args.length) throw unexpected(args[i + 1]!);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") throw unexpected(arg);
    if (!arg.startsWith("--")) throw parseError(`Unknown option '-${arg[1]}'`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = name !== "" && Object.hasOwn(options, name) ? options[name] : undefined;
    if (!spec) throw parseError(`Unknown option '${eq === -1 || name === "" ? arg : `--${name}`}'`);
    if (spec.type === "boolean") {
      if (eq !== -1) throw parseError(`Option '--${name}' does not take an argument`);
      values[name] = true;
    } else if (eq !== -1) {
      values[name] = arg.slice(eq + 1);
    } else {
      const value = args[i + 1];
      if (value === undefined) throw parseError(`Option '--${name} <value>' argument missing`);
      if (value.length > 1 && value.startsWith("-")) {
        throw parseError(
          `Option '--${name}' argument is ambiguous.\n` +
            `Did you forget to specify the option argument for '--${name}'?\n` +
            `To specify an option argument starting with a dash use '--${name}=-XYZ'.`,
        );
      }
      values[name] = value;
      i++;
    }
  }
  return { values, positionals: [] };
}

function unexpected(arg: string): Error {
  return parseError(
    `Unexpected argument '${arg}'. This command does not take positional arguments`,
  );
}

function parseError(message: string): Error {
  return new TypeError(message);
}
