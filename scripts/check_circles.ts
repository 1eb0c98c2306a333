// Fails when any two of the project's own modules import each other, directly
// or through others (type-only and dynamic imports count: a circle is a
// circle in the design, whenever it is loaded). Run by `deno task ok`:
//
//   deno run --allow-read --allow-write --allow-run scripts/check_circles.ts
//
// It asks `deno info --json` for the module graph of every .ts file in the
// repository (through one generated entry that imports them all), then finds
// strongly connected components among the local modules.
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = new URL("..", import.meta.url).pathname;
const SKIP = new Set(["node_modules", "npm", ".git", ".claude"]);

/** Every .ts file of the repository, as absolute paths. */
function sources(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && !SKIP.has(entry.name)) out.push(...sources(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** Local module -> the local modules it imports. */
async function graph(files: string[]): Promise<Map<string, string[]>> {
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const lines = files.map((f) => `import ${JSON.stringify(pathToFileURL(f).href)};`);
    await Deno.writeTextFile(entry, lines.join("\n") + "\n");
    const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--no-lock", "--config", join(ROOT, "deno.json"), entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!success) throw new Error(`deno info failed: ${new TextDecoder().decode(stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
    const root = pathToFileURL(ROOT).href;
    const local = (s: string | undefined): s is string => s !== undefined && s.startsWith(root);
    const edges = new Map<string, string[]>();
    for (const m of info.modules) {
      if (!local(m.specifier)) continue;
      const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier]);
      edges.set(m.specifier, [...new Set(deps.filter(local))]);
    }
    return edges;
  } finally {
    await Deno.remove(entry);
  }
}

/** Tarjan's strongly connected components of more than one module (or a self-import). */
export function circles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

if (import.meta.main) {
  const edges = await graph(sources());
  const found = circles(edges);
  const name = (url: string) => relative(ROOT, new URL(url).pathname).split(sep).join("/");
  if (found.length > 0) {
    console.error(`Import circles (${found.length}):`);
    for (const c of found) console.error(`  ${c.map(name).join(" <-> ")}`);
    Deno.exit(1);
  }
  console.log(`No import circles among ${edges.size} modules.`);
}
