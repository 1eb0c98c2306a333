// Turns deno.json and the sources into what the npm package needs: bare
// specifiers instead of `npm:` ones, and a package.json whose exports,
// dependencies and files follow deno.json, so a new backend or dependency
// needs no change here.

/** The parts of deno.json the npm build reads. */
export interface DenoJson {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
  imports?: Record<string, string>;
}

/** One source file, by its path relative to the project root ("/" separated). */
export interface SourceFile {
  path: string;
  text: string;
}

/** An npm dependency: where the sources import it and the range deno.json asks for. */
export interface NpmDependency {
  name: string;
  range: string;
}

/** Tools the build and the Node test suite install next to the package. */
export const DEV_DEPENDENCIES: Readonly<Record<string, string>> = {
  "typescript": "5.9.3",
  "@types/node": "^24.10.0",
  "@types/pg": "^8.15.0",
};

/** The lowest Node that runs the package (node:sqlite without a flag). */
export const NODE_ENGINE = ">=22.13";

/** The CLI's command name. */
export const BIN_NAME = "managing-state";

/** The generated CLI launcher, relative to the package root. */
export const BIN_PATH = "bin/managing-state.js";

const NPM_SPECIFIER = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/;

/** Splits `npm:name@range/sub` into its parts; undefined for other specifiers. */
export function parseNpmSpecifier(
  specifier: string,
): { name: string; range: string; subpath: string } | undefined {
  const m = NPM_SPECIFIER.exec(specifier);
  if (!m) return undefined;
  return { name: m[1]!, range: m[2] ?? "*", subpath: m[3] ?? "" };
}

// String literals in import positions: `from "x"`, `import "x"`, `import("x")`.
const IMPORT_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"'\n]+)\2/g;

/**
 * Rewrites a source's specifiers for Node: `npm:name@range/sub` and
 * import-map keys that point at npm become `name/sub`. Throws on `jsr:` and
 * `https:` specifiers, which Node cannot load.
 */
export function rewriteSpecifiers(
  file: SourceFile,
  imports: Record<string, string>,
  found: Map<string, NpmDependency>,
): string {
  return file.text.replace(IMPORT_SPECIFIER, (all, lead: string, quote: string, spec: string) => {
    if (spec.startsWith(".") || spec.startsWith("node:")) return all;
    const mapped = resolveImportMap(spec, imports);
    const npm = parseNpmSpecifier(mapped);
    if (!npm) {
      if (/^(jsr|https?):/.test(mapped)) {
        throw new Error(
          `${file.path} imports ${JSON.stringify(spec)}, which Node cannot load: ` +
            "use an npm: or node: specifier for code the npm package ships",
        );
      }
      return all;
    }
    found.set(npm.name, { name: npm.name, range: npm.range });
    return `${lead}${quote}${npm.name}${npm.subpath}${quote}`;
  });
}

function resolveImportMap(spec: string, imports: Record<string, string>): string {
  if (Object.hasOwn(imports, spec)) return imports[spec]!;
  for (const [key, value] of Object.entries(imports)) {
    if (key.endsWith("/") && spec.startsWith(key)) return value + spec.slice(key.length);
  }
  return spec;
}

/** The npm packages deno.json's import map names. */
export function importMapDependencies(imports: Record<string, string>): NpmDependency[] {
  return Object.values(imports).flatMap((value) => {
    const npm = parseNpmSpecifier(value);
    return npm ? [{ name: npm.name, range: npm.range }] : [];
  });
}

// Static (not dynamic, not type-only) imports and re-exports.
const STATIC_IMPORT =
  /(?:^|[;\n])\s*(import|export)\s+(type\s+)?(?:[^;"']*?\s+from\s*)?["']([^"']+)["']/g;

/** The relative files a file imports statically, resolved against its path. */
function staticImports(file: SourceFile): string[] {
  const out: string[] = [];
  for (const m of file.text.matchAll(STATIC_IMPORT)) {
    if (m[2]) continue;
    const spec = m[3]!;
    if (!spec.startsWith(".")) continue;
    out.push(new URL(spec, `file:///${file.path}`).pathname.slice(1));
  }
  return out;
}

/** Every file reachable from `entries` through static imports. */
export function staticClosure(files: SourceFile[], entries: string[]): Set<string> {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const path = todo.pop()!;
    if (seen.has(path)) continue;
    const file = byPath.get(path);
    if (!file) continue;
    seen.add(path);
    todo.push(...staticImports(file));
  }
  return seen;
}

/** Whether a (rewritten) source refers to an npm package by name. */
function mentions(file: SourceFile, name: string): boolean {
  return file.text.includes(`"${name}"`) || file.text.includes(`"${name}/`) ||
    file.text.includes(`'${name}'`) || file.text.includes(`'${name}/`);
}

/** package.json dependency fields, split by who needs each package. */
export interface DependencyFields {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional: true }>;
  devDependencies: Record<string, string>;
}

/**
 * Sorts the npm packages: what the core or the CLI loads statically is a
 * dependency; what only a subpath export or a backend loaded on demand needs
 * (ioredis, @deno/kv) is an optional peer; what only tests use is a dev
 * dependency. All of them are dev dependencies too, so the Node suite can run.
 */
export function dependencyFields(
  deps: NpmDependency[],
  lib: SourceFile[],
  core: Set<string>,
): DependencyFields {
  const fields: DependencyFields = {
    dependencies: {},
    peerDependencies: {},
    peerDependenciesMeta: {},
    devDependencies: { ...DEV_DEPENDENCIES },
  };
  for (const dep of [...deps].sort((a, b) => a.name.localeCompare(b.name))) {
    const users = lib.filter((f) => mentions(f, dep.name));
    if (users.some((f) => core.has(f.path))) {
      fields.dependencies[dep.name] = dep.range;
    } else if (users.length) {
      fields.peerDependencies[dep.name] = dep.range;
      fields.peerDependenciesMeta[dep.name] = { optional: true };
    }
    fields.devDependencies[dep.name] = dep.range;
  }
  return fields;
}

/** `./x.ts` as the compiled file with extension `ext`. */
export function compiledPath(path: string, ext: ".js" | ".d.ts"): string {
  return path.replace(/\.ts$/, ext);
}

/** The package.json of the npm package. */
export function packageJson(
  deno: DenoJson,
  description: string,
  deps: DependencyFields,
  files: string[],
): Record<string, unknown> {
  const exports: Record<string, { types: string; default: string }> = {};
  for (const [subpath, target] of Object.entries(deno.exports)) {
    exports[subpath] = {
      types: compiledPath(target, ".d.ts"),
      default: compiledPath(target, ".js"),
    };
  }
  const main = exports["."];
  const json: Record<string, unknown> = {
    name: deno.name,
    version: deno.version,
    description,
    license: deno.license,
    type: "module",
    ...(main ? { main: main.default, types: main.types } : {}),
    exports,
    bin: { [BIN_NAME]: `./${BIN_PATH}` },
    files,
    engines: { node: NODE_ENGINE },
  };
  for (const field of Object.keys(deps) as (keyof DependencyFields)[]) {
    if (Object.keys(deps[field]).length) json[field] = deps[field];
  }
  return json;
}

/** Fails when code outside a `*_platform.ts` seam branches on the Deno global. */
export function checkRuntimeSeam(lib: SourceFile[]): void {
  const offenders = lib.filter((f) => {
    if (/(^|\/)_?[a-z_]*platform\.ts$/.test(f.path)) return false;
    const code = f.text.split("\n").filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line)).join("\n");
    return /\bDeno\s*(\?\.|\.|\[)|\.Deno\b|["']Deno["']\s+in\b|\bDeno\?:/.test(code);
  });
  if (offenders.length) {
    throw new Error(
      `Runtime branches outside the platform seam in ${offenders.map((f) => f.path).join(", ")}: ` +
        "move Deno-specific code into a *_platform.ts file",
    );
  }
}

/**
 * Makes a declaration file stand alone: the ES library parts it names that
 * a consumer's default `lib` (ES2022 for `target: es2022`) lacks are
 * referenced from the file, so it type-checks with `skipLibCheck: false`
 * and no `@types/node` (which would otherwise be what declares them).
 */
export function selfContainedDeclarations(dts: string): string {
  const libs: string[] = [];
  if (/\b(Async)?Disposable(Stack)?\b|\bSymbol\.(asyncDispose|dispose)\b/.test(dts)) {
    libs.push("esnext.disposable");
  }
  const missing = libs.filter((lib) => !dts.includes(`<reference lib="${lib}" />`));
  return missing.map((lib) => `/// <reference lib="${lib}" />\n`).join("") + dts;
}
