// Process helpers for the npm build and the Node suite: run a command, and
// find a Node new enough for the package (the system one, else Node 24
// fetched from npm with npx).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The folder the npm package is built into. */
export const NPM_DIR = join(ROOT, "npm");

/** The Node major the Node suite runs on when the system Node is older. */
export const NODE_MAJOR = 24;

/** Options for {@linkcode run} and {@linkcode output}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/** Runs a command with inherited output; throws when it fails. */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<void> {
  const { code } = await new Deno.Command(cmd, {
    args,
    ...options,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed with exit code ${code}`);
}

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
export async function output(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const r = await new Deno.Command(cmd, { args, ...options, stdin: "null" }).output();
  const text = new TextDecoder().decode(r.stdout);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed with exit code ${r.code}:\n` +
        new TextDecoder().decode(r.stderr) + text,
    );
  }
  return text;
}

/**
 * The path of a Node binary of at least {@linkcode NODE_MAJOR}: the system
 * `node` when it is new enough, else `npx -y node@24`'s.
 */
export async function findNode(): Promise<string> {
  const probe = ["-p", "process.versions.node.split('.')[0] + ' ' + process.execPath"];
  try {
    const [major, path] = (await output("node", probe)).trim().split(" ");
    if (Number(major) >= NODE_MAJOR && path) return path;
  } catch {
    // No system node: fetch one.
  }
  const path = (await output("npx", ["-y", `node@${NODE_MAJOR}`, ...probe])).trim().split(" ")[1];
  if (!path) throw new Error(`Cannot find a Node ${NODE_MAJOR} binary through npx`);
  return path;
}

/** An environment whose PATH finds `node` first, so npm, npx and bin shims use it. */
export function envWithNode(node: string): Record<string, string> {
  const path = Deno.env.get("PATH") ?? "";
  return { PATH: `${dirname(node)}:${path}`, NO_COLOR: "1" };
}
