// Runs the code examples of the Markdown docs, so they cannot drift from the
// code. Conventions (the docs follow them; README "Development" lists them):
//
// - ```ts blocks are type-checked with the project's compiler options, then
//   run one after another, each in a fresh empty folder. Imports of
//   "@adw/managing-state" (and its subpaths) and relative imports such as
//   "./mod.ts" (relative to the Markdown file) load this repository's code;
//   other packages resolve through deno.json's imports, then the versions
//   tests/node_suites/package.json pins (e.g. "@langchain/langgraph").
//   `console.log(x); // => v` checks that x deep-equals v.
// - ```sh / ```bash blocks of one file run in order in one shell, in one
//   fresh folder. `deno task cli`, `deno run ... cli.ts`, `npx managing-state`
//   and a bare `managing-state` run this repository's cli.ts (the `cli` task
//   with its exact permissions). Every command must exit 0 unless a `# exit N`
//   line follows it. `cmd  # => text`, or `# => text` lines after it, give its
//   exact stdout; `# stderr: text` lines give lines its stderr must contain.
//   Installs (`npm install`, `deno add`) are not run: they need the network,
//   and this repository is the package.
// - A block whose info string says `ignore` (```ts ignore) is skipped.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runCommand } from "./_runtime.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** One fenced code block. */
export interface Block {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the block's first code line in that file. */
  line: number;
  /** "ts" or "sh". */
  lang: "ts" | "sh";
  /** The code. */
  code: string;
}

const TS = new Set(["ts", "typescript"]);
const SH = new Set(["sh", "bash", "shell"]);

/** The runnable blocks of a Markdown text (ts and sh, not marked `ignore`). */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s{0,3}(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const lang = open[2]!.toLowerCase();
    const attrs = open[3]!.split(/[\s,{}]+/);
    let end = i + 1;
    while (end < lines.length && !isClose(lines[end]!, fence)) end++;
    const code = lines.slice(i + 1, end).join("\n");
    const kind = TS.has(lang) ? "ts" : SH.has(lang) ? "sh" : undefined;
    if (kind && !attrs.includes("ignore")) blocks.push({ file, line: i + 2, lang: kind, code });
    i = end;
  }
  return blocks;
}

function isClose(line: string, fence: string): boolean {
  const m = /^\s{0,3}(`{3,}|~{3,})\s*$/.exec(line);
  return m !== null && m[1]![0] === fence[0] && m[1]!.length >= fence.length;
}

/** Markdown files with examples: README.md, SKILL.md and references/*.md. */
export function docFiles(): string[] {
  const out = ["README.md", "SKILL.md"].filter((f) => existsSync(join(ROOT, f)));
  const references = join(ROOT, "references");
  if (existsSync(references)) {
    for (const f of readdirSync(references, { withFileTypes: true })) {
      if (f.isFile() && f.name.endsWith(".md")) out.push(`references/${f.name}`);
    }
  }
  return out.sort();
}

// ---------------------------------------------------------------- TypeScript

const PACKAGE = "@adw/managing-state";

interface DenoJson {
  exports: Record<string, string>;
  imports?: Record<string, string>;
  compilerOptions?: Record<string, unknown>;
  tasks: Record<string, string>;
}

function denoJson(): DenoJson {
  return JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
}

/**
 * The import map of the examples: deno.json's, plus the packages the Node
 * suites pin (LangGraph, for instance), as `npm:` specifiers of those
 * versions, so an example may import what a user of the adapters imports.
 */
export function docsImports(imports: Record<string, string>): Record<string, string> {
  const harness = JSON.parse(readFileSync(join(ROOT, "tests/node_suites/package.json"), "utf8"));
  const out = { ...imports };
  for (const [name, version] of Object.entries<string>(harness.devDependencies ?? {})) {
    if (out[name] !== undefined) continue;
    out[name] = `npm:${name}@${version}`;
    out[`${name}/`] = `npm:/${name}@${version}/`;
  }
  return out;
}

/** A block's code with its imports pointing into this repository; line numbers are kept. */
export function rewriteTs(block: Block): string {
  const { exports } = denoJson();
  const base = dirname(join(ROOT, block.file));
  const target = (spec: string): string => {
    if (spec.startsWith("./") || spec.startsWith("../")) {
      return pathToFileURL(resolve(base, spec)).href;
    }
    if (spec === PACKAGE || spec.startsWith(`${PACKAGE}/`)) {
      const sub = "." + spec.slice(PACKAGE.length);
      const path = exports[sub];
      if (!path) throw new Error(`${block.file}:${block.line}: deno.json exports no "${sub}"`);
      return pathToFileURL(join(ROOT, path)).href;
    }
    return spec;
  };
  const code = block.code
    .replace(
      /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g,
      (_m, lead: string, q: string, spec: string) => `${lead}${q}${target(spec)}${q}`,
    )
    .replace(
      /^(\s*)console\.log\((.*)\);?\s*\/\/\s*=>\s*(.+)$/gm,
      (_m, indent: string, actual: string, expected: string) =>
        `${indent}__expect(${actual}, ${expected}, ${JSON.stringify(expected)});`,
    );
  const helper = pathToFileURL(join(ROOT, "tests/_docs_expect.ts")).href;
  return `${code}\nimport { __expect } from "${helper}";\nexport {};\n`;
}

/** A failed example: where it is and what went wrong. */
export interface Failure {
  where: string;
  message: string;
}

/**
 * Type-checks all TS blocks in one `deno check`, then runs them in one
 * process, each in a fresh folder under `work`. Returns the failures.
 */
export async function runTsBlocks(blocks: Block[], work: string): Promise<Failure[]> {
  if (blocks.length === 0) return [];
  const dir = join(work, "ts");
  mkdirSync(dir, { recursive: true });
  const config = denoJson();
  writeFileSync(
    join(dir, "deno.json"),
    JSON.stringify({
      imports: docsImports(config.imports ?? {}),
      compilerOptions: config.compilerOptions ?? {},
      lock: false,
      nodeModulesDir: "none",
    }),
  );
  const files = blocks.map((b, i) => {
    const name = `block${i}_${b.file.replace(/[^A-Za-z0-9]/g, "_")}_L${b.line}.ts`;
    writeFileSync(join(dir, name), rewriteTs(b));
    return name;
  });
  const where = (name: string) => {
    const b = blocks[files.indexOf(name)]!;
    return `${b.file}:${b.line}`;
  };
  // "file:///.../blockN_..._L12.ts:LINE:COL" -> "README.md:<line in the Markdown>"
  const mapLines = (text: string) =>
    text.replace(
      /file:\/\/\S*?(block\d+_\w+?_L\d+\.ts):(\d+):\d+/g,
      (m, name: string, line: string) => {
        const b = blocks[files.indexOf(name)];
        return b ? `${b.file}:${b.line + Number(line) - 1}` : m;
      },
    );
  const deno = process.execPath; // these tests run under Deno
  const check = await runCommand(deno, ["check", "--quiet", ...files], { cwd: dir });
  if (check.code !== 0) {
    return [{ where: "type check", message: mapLines(check.stderr + check.stdout).trim() }];
  }
  const report = join(dir, "report.json");
  const runner = join(dir, "run.ts");
  // Each block runs in its own worker: one failing block cannot disturb the next (and
  // Deno 2.9 never settles a second import() of a module whose top-level await rejects).
  writeFileSync(
    join(dir, "wrap.ts"),
    `const name = new URL(location.href).searchParams.get("block");
try {
  await import("./" + name);
  self.postMessage({ ok: true });
} catch (error) {
  self.postMessage({ ok: false, message: String(error?.stack ?? error) });
}
`,
  );
  writeFileSync(
    runner,
    `import process from "node:process";
const files = ${JSON.stringify(files)};
const failures = [];
for (const [i, name] of files.entries()) {
  const cwd = ${JSON.stringify(dir)} + "/cwd" + i;
  Deno.mkdirSync(cwd);
  process.chdir(cwd);
  const url = new URL("./wrap.ts?block=" + encodeURIComponent(name), import.meta.url);
  const worker = new Worker(url, { type: "module" });
  const result = await new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      resolve({ ok: false, message: e.message });
    };
  });
  worker.terminate();
  if (!result.ok) failures.push({ name, message: result.message });
}
Deno.writeTextFileSync(${JSON.stringify(report)}, JSON.stringify(failures));
`,
  );
  const run = await runCommand(
    deno,
    ["run", "--allow-all", "--unstable-kv", "--no-check", "--quiet", runner],
    { cwd: dir },
  );
  let failures: { name: string; message: string }[];
  try {
    failures = JSON.parse(readFileSync(report, "utf8"));
  } catch {
    return [{ where: "ts runner", message: `exit ${run.code}: ${run.stderr.trim()}` }];
  }
  return failures.map((f) => ({ where: where(f.name), message: mapLines(f.message) }));
}

// --------------------------------------------------------------------- Shell

/** One shell command of a block, with what it must produce. */
export interface Command {
  line: number;
  text: string;
  exit: number;
  stdout: string[] | null;
  stderr: string[];
}

/** Splits sh blocks into commands (continuations and heredocs joined) and their expectations. */
export function parseShell(block: Block): Command[] {
  const lines = block.code.split("\n");
  const commands: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    const last = commands.at(-1);
    const expect = /^#\s*=>\s?(.*)$/.exec(trimmed);
    if (expect && last) {
      (last.stdout ??= []).push(expect[1]!);
      continue;
    }
    const exit = /^#\s*exit\s+(\d+)\s*$/.exec(trimmed);
    if (exit && last) {
      last.exit = Number(exit[1]);
      continue;
    }
    const err = /^#\s*stderr:\s?(.*)$/.exec(trimmed);
    if (err && last) {
      last.stderr.push(err[1]!);
      continue;
    }
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const start = i;
    let text = raw;
    while (text.endsWith("\\") && i + 1 < lines.length) text = text.slice(0, -1) + lines[++i]!;
    const heredoc = /<<-?\s*['"]?(\w+)['"]?/.exec(text);
    if (heredoc) {
      while (i + 1 < lines.length) {
        text += "\n" + lines[++i]!;
        if (lines[i]!.trim() === heredoc[1]) break;
      }
    }
    let stdout: string[] | null = null;
    const inline = / #\s*=>\s?(.*)$/.exec(text);
    if (inline && !heredoc) {
      stdout = [inline[1]!];
      text = text.slice(0, inline.index);
    }
    commands.push({ line: block.line + start, text, exit: 0, stdout, stderr: [] });
  }
  return commands;
}

/** Shell functions that send the documented command forms to this repository's cli.ts. */
function prelude(): string {
  const { tasks } = denoJson();
  const flags = (task: string) => {
    const m = /^deno run (.*) cli\.ts$/.exec(tasks[task] ?? "");
    if (!m) throw new Error(`deno.json task "${task}" is not "deno run <flags> cli.ts"`);
    return m[1]!;
  };
  const cli = join(ROOT, "cli.ts");
  return `
__ms_cli=${sq(cli)}
__ms_tasks=${sq(Object.keys(tasks).join(" "))}
deno() {
  case "$1" in
    task)
      shift
      while [[ "$1" == -* ]]; do shift; done
      case "$1" in
        cli) shift; command deno run ${flags("cli")} "$__ms_cli" "$@" ;;
        cli:net) shift; command deno run ${flags("cli:net")} "$__ms_cli" "$@" ;;
        *)
          if [[ " $__ms_tasks " == *" $1 "* ]]; then
            echo "(docs test: task $1 not run here)" >&2; return 0
          fi
          echo "docs test: deno.json has no task \\"$1\\"" >&2; return 97 ;;
      esac ;;
    run)
      local args=() a
      for a in "$@"; do
        case "$a" in
          *cli.ts|jsr:@adw/managing-state*/cli|npm:@adw/managing-state*/cli) a="$__ms_cli" ;;
        esac
        args+=("$a")
      done
      command deno "\${args[@]}" ;;
    add|install) echo "(docs test: deno $1 skipped)" >&2; return 0 ;;
    *) command deno "$@" ;;
  esac
}
managing-state() { command deno run --allow-all --unstable-kv "$__ms_cli" "$@"; }
npx() {
  while [[ "$1" == -* ]]; do shift; done
  case "$1" in
    managing-state|@adw/managing-state) shift; managing-state "$@" ;;
    deno|deno@*) shift; deno "$@" ;;
    *) echo "docs test: npx $1 cannot run offline: mark the block \\"sh ignore\\"" >&2; return 97 ;;
  esac
}
npm() {
  case "$1" in
    install|i|add|ci) echo "(docs test: npm $1 skipped)" >&2; return 0 ;;
    *) command npm "$@" ;;
  esac
}
`;
}

function sq(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const MARK = "@@docs-test@@";

/**
 * Runs the sh blocks of one file in one shell, in a fresh folder, with `env`
 * added to the environment (REDIS_URL for the examples that move state to
 * Redis); returns the failures.
 */
export async function runShellBlocks(
  blocks: Block[],
  work: string,
  env: Record<string, string> = {},
): Promise<Failure[]> {
  const commands = blocks.flatMap(parseShell);
  if (commands.length === 0) return [];
  const cwd = join(work, "sh");
  mkdirSync(cwd, { recursive: true });
  const script = [prelude()];
  commands.forEach((c, i) => {
    script.push(`printf '${MARK}B${i}\\n'; printf '${MARK}B${i}\\n' >&2`);
    script.push(c.text);
    script.push(
      `__ms_rc=$?; printf '\\n${MARK}E${i} %s\\n' "$__ms_rc"; printf '\\n${MARK}E${i}\\n' >&2`,
    );
  });
  const file = join(work, "doc.sh");
  writeFileSync(file, script.join("\n") + "\n");
  const path = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
  const result = await runCommand("bash", [file], { cwd, env: { ...env, PATH: path } });
  const failures: Failure[] = [];
  commands.forEach((c, i) => {
    const where = `${blocks[0]!.file}:${c.line}`;
    const out = new RegExp(`${MARK}B${i}\\n([\\s\\S]*?)\\n${MARK}E${i} (\\d+)\\n`).exec(
      result.stdout,
    );
    const err = new RegExp(`${MARK}B${i}\\n([\\s\\S]*?)\\n${MARK}E${i}\\n`).exec(result.stderr);
    if (!out) {
      failures.push({ where, message: `did not finish: ${c.text}\n${result.stderr.slice(-2000)}` });
      return;
    }
    const stdout = out[1]!.replace(/\n+$/, "");
    const stderr = err?.[1] ?? "";
    const problems: string[] = [];
    if (Number(out[2]) !== c.exit) problems.push(`exit ${out[2]}, expected ${c.exit}`);
    if (c.stdout && stdout !== c.stdout.join("\n")) {
      problems.push(
        `stdout ${JSON.stringify(stdout)}, expected ${JSON.stringify(c.stdout.join("\n"))}`,
      );
    }
    const errLines = stderr.split("\n");
    for (const want of c.stderr) {
      if (!errLines.includes(want)) problems.push(`stderr lacks ${JSON.stringify(want)}`);
    }
    if (problems.length) {
      failures.push({
        where,
        message: `${c.text}\n  ${problems.join("\n  ")}\n  stderr: ${stderr.trim()}`,
      });
    }
  });
  return failures;
}
