// Measures what an agent pays per state read: one `load` tool call through a
// running `managing-state mcp` (median of 1,000 calls through one client),
// next to one `managing-state load` process (median of 30 runs), on the JSON
// and SQLite backends, on Deno and (when npm/ is built) on Node.
//
//   deno task bench:mcp
import { join } from "node:path";
import process from "node:process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { findNode, NPM_DIR, output, ROOT } from "./_node.ts";

const CALLS = 1000;
const PROCESSES = 30;

interface Runtime {
  name: string;
  /** The command and arguments that run the CLI. */
  cli: [string, string[]];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

async function toolCalls(rt: Runtime, settings: string[]): Promise<number[]> {
  const [command, lead] = rt.cli;
  const transport = new StdioClientTransport({
    command,
    args: [...lead, "mcp", ...settings],
    env: { ...process.env } as Record<string, string>,
  });
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(transport);
  try {
    await client.callTool({ name: "save", arguments: { key: "phase", value: "building" } });
    for (let i = 0; i < 50; i++) {
      await client.callTool({ name: "load", arguments: { key: "phase" } }); // warm up
    }
    const times: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const r = await client.callTool({ name: "load", arguments: { key: "phase" } });
      times.push(performance.now() - t0);
      if (r.isError) throw new Error(JSON.stringify(r.content));
    }
    return times;
  } finally {
    await client.close();
  }
}

async function processes(rt: Runtime, settings: string[]): Promise<number[]> {
  const [command, lead] = rt.cli;
  const times: number[] = [];
  for (let i = 0; i < PROCESSES + 3; i++) {
    const t0 = performance.now();
    const out = await new Deno.Command(command, {
      args: [...lead, "load", "--key", "phase", ...settings],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - t0;
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
    if (i >= 3) times.push(ms); // the first runs fill caches
  }
  return times;
}

const runtimes: Runtime[] = [{
  name: `Deno ${Deno.version.deno}`,
  cli: [Deno.execPath(), ["run", "-A", "--unstable-kv", join(ROOT, "cli.ts")]],
}];
try {
  Deno.statSync(join(NPM_DIR, "cli.js"));
  const node = await findNode();
  const version = (await output(node, ["--version"])).trim();
  runtimes.push({ name: `Node ${version}`, cli: [node, [join(NPM_DIR, "bin/managing-state.js")]] });
} catch {
  console.error("npm/ is not built: measuring Deno only (deno task build:npm adds Node)");
}

console.log(
  `| runtime | backend | tool call, median (p90) | CLI process, median (p90) | ratio |`,
);
console.log(`|---|---|---|---|---|`);
for (const rt of runtimes) {
  for (const backend of ["json", "sqlite"]) {
    const dir = Deno.makeTempDirSync({ prefix: "ms-mcp-bench-" });
    try {
      const settings = ["--backend", backend, "--dir", dir, "--namespace", "bench"];
      const calls = await toolCalls(rt, settings);
      const runs = await processes(rt, settings);
      const [c, p] = [median(calls), median(runs)];
      console.log(
        `| ${rt.name} | ${backend} | ${c.toFixed(2)} ms (${percentile(calls, 0.9).toFixed(2)}) | ` +
          `${p.toFixed(0)} ms (${percentile(runs, 0.9).toFixed(0)}) | ${(p / c).toFixed(0)}x |`,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  }
}
