// `step` and `steps`: shell commands as durable steps. `step --name N -- cmd`
// runs cmd unless step N is recorded done, holding the step's lease (renewed
// while cmd runs) so two agents never run it at once, and records its exit
// code, duration and the last lines of its output.
import type { Readable } from "node:stream";
import { validateStepName } from "../core/_step_records.ts";
import type { StepInfo } from "../core/_step_records.ts";
import {
  type Command,
  type Ctx,
  openState,
  positiveInt,
  print,
  required,
  safe,
  table,
} from "./_context.ts";
import { EXIT, UsageError } from "./_usage.ts";
import { canCheckProcesses } from "./_platform.ts";

/** What `step` records as the result of a command that exited 0. */
interface CommandResult {
  exitCode: number;
  durationMs: number;
  output: string[];
}

/** Lines of output kept by default. */
const TAIL_LINES = 20;
/** Longest output line kept, in characters. */
const MAX_LINE = 500;

/** A command that exited non-zero (or could not start): the step failed with its code. */
class CommandFailed extends Error {
  readonly exitCode: number;
  readonly reason: string;
  constructor(exitCode: number, reason: string, output: string[]) {
    // The message is what the failure record keeps: the reason and the last lines.
    super(`${reason}${output.length ? `; last output:\n${output.join("\n")}` : ""}`);
    this.exitCode = exitCode;
    this.reason = reason;
  }
}

/**
 * What running a command line needs, loaded by the step command only (the
 * other commands start faster without it), and before the step takes its
 * lease: loading it while holding one would delay the lease's renewals.
 */
function loadProcessModules() {
  return Promise.all([import("node:child_process"), import("node:os")]);
}

/** Runs `argv`, passing its output through by lines; resolves with the exit code and tail. */
function runCommandLine(
  [{ spawn }, { constants }]: Awaited<ReturnType<typeof loadProcessModules>>,
  argv: string[],
  ctx: Ctx,
  tail: number,
): Promise<{ code: number; reason: string; output: string[] }> {
  return new Promise((resolve) => {
    const output: string[] = [];
    const keep = (line: string) => {
      output.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) + "..." : line);
      if (output.length > tail) output.shift();
    };
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["inherit", "pipe", "pipe"] });
    // Under --json stdout carries one JSON document: the command's output goes to stderr.
    const pipe = (stream: Readable, write: (line: string) => void) => {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          keep(line);
          write(line);
        }
      });
      return () => {
        if (partial) {
          keep(partial);
          write(partial);
        }
      };
    };
    const flushOut = pipe(child.stdout, ctx.json ? ctx.io.err : ctx.io.out);
    const flushErr = pipe(child.stderr, ctx.io.err);
    child.on("error", (error) => {
      resolve({ code: 127, reason: `cannot run ${argv[0]}: ${error.message}`, output });
    });
    child.on("close", (code, signal) => {
      flushOut();
      flushErr();
      if (signal) {
        const n = constants.signals[signal as keyof typeof constants.signals] ?? 0;
        resolve({ code: 128 + n, reason: `killed by ${signal}`, output });
      } else resolve({ code: code ?? 1, reason: `exited with code ${code}`, output });
    });
  });
}

function stepRow(s: StepInfo): string[] {
  return [
    s.name,
    s.status,
    String(s.attempts),
    s.startedAt === null ? "-" : new Date(s.startedAt).toISOString(),
    s.durationMs === null ? "-" : `${(s.durationMs / 1000).toFixed(1)}s`,
  ];
}

/** The step commands, by name. */
export const STEP_COMMANDS: Record<string, Command> = {
  step: {
    summary: "Run a command as a durable step: skipped once recorded done",
    usage: "step --name build [--always] [--no-wait] -- npm run build | step --reset build",
    passthrough: true,
    options: {
      name: { type: "string", help: "the step's name (nested: build/compile)" },
      always: { type: "boolean", help: "run it even if it is recorded done" },
      "no-wait": {
        type: "boolean",
        help: "if another runner holds the step, exit 4 at once instead of waiting",
      },
      "lease-ms": { type: "string", help: "the lease's lifetime, renewed while running (30000)" },
      tail: { type: "string", help: `lines of output to record (${TAIL_LINES})` },
      reset: { type: "string", help: "forget this step (and its nested steps) so it runs again" },
      "and-later": { type: "boolean", help: "with --reset: also forget steps started after it" },
    },
    async run(ctx) {
      const { values } = ctx;
      if (typeof values.reset === "string") {
        if (ctx.passthrough || values.name !== undefined) {
          throw new UsageError("--reset takes no --name and no command");
        }
        validateStepName(values.reset);
        await using state = await openState(ctx.settings);
        const forgotten = await state.resetStep(values.reset, {
          andLater: values["and-later"] === true,
        });
        if (forgotten.length === 0) {
          ctx.io.err(
            `error: no step ${safe(JSON.stringify(values.reset))}. Run "steps" to list them.`,
          );
          return EXIT.notFound;
        }
        print(ctx, `Reset: ${forgotten.map((n) => safe(n)).join(", ")}`, { reset: forgotten });
        return;
      }
      const name = required(values, "name");
      validateStepName(name);
      const argv = ctx.passthrough ?? [];
      if (argv.length === 0) {
        throw new UsageError('Give the command after "--": step --name build -- npm run build');
      }
      if (!canCheckProcesses()) {
        // Deno's run permission also covers starting the command: refuse before recording a run.
        throw new UsageError(
          "step runs a command: Deno needs --allow-run (e.g. deno run -A cli.ts step ...)",
        );
      }
      const tail = typeof values.tail === "string"
        ? positiveInt(values.tail, "--tail")
        : TAIL_LINES;
      const ttlMs = typeof values["lease-ms"] === "string"
        ? positiveInt(values["lease-ms"], "--lease-ms")
        : 30_000;
      const modules = await loadProcessModules();
      await using state = await openState(ctx.settings);
      let ran = false;
      let result: CommandResult;
      try {
        result = await state.step<CommandResult>(name, async () => {
          ran = true;
          const started = Date.now();
          const run = await runCommandLine(modules, argv, ctx, tail);
          if (run.code !== 0) throw new CommandFailed(run.code, run.reason, run.output);
          return { exitCode: 0, durationMs: Date.now() - started, output: run.output };
        }, {
          lease: {
            ttlMs,
            wait: values["no-wait"] !== true,
            onWait: (holder) =>
              ctx.io.err(
                `step ${safe(JSON.stringify(name))} is being run by process ${holder.pid} on ${
                  safe(holder.host)
                }: waiting for it (--no-wait exits 4 instead)`,
              ),
          },
          always: values.always === true,
        });
      } catch (error) {
        if (!(error instanceof CommandFailed)) throw error;
        ctx.io.err(
          `step ${safe(JSON.stringify(name))} failed: ${safe(error.reason)}`,
        );
        if (ctx.json) print(ctx, "", { name, skipped: false, exitCode: error.exitCode });
        return error.exitCode;
      }
      if (!ran) {
        ctx.io.err(
          `step ${safe(JSON.stringify(name))} is already done: skipped (--always runs it)`,
        );
      }
      if (ctx.json) {
        print(ctx, "", {
          name,
          skipped: !ran,
          exitCode: result.exitCode,
          durationMs: result.durationMs,
        });
      }
    },
  },
  steps: {
    summary: "List steps: status, attempts, start time and duration",
    usage: "steps",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const list = await state.steps();
      if (ctx.json) return print(ctx, "", list);
      if (list.length === 0) return void ctx.io.err("no steps");
      ctx.io.out(
        table([["NAME", "STATUS", "ATTEMPTS", "STARTED", "DURATION"], ...list.map(stepRow)]),
      );
    },
  },
};
