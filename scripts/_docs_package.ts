// The documents both packages carry beside the code: the npm build copies
// them (build_npm.ts) and JSR publishes them (deno.json's publish.include),
// so a relative link in README.md, SKILL.md or references/ works wherever
// the package is read. npm_package_test.ts holds both lists to the links.
import { posix } from "node:path";

/** Documents shipped in both packages: files, and folders ("references/") of Markdown files. */
export const SHIPPED_DOCS: readonly string[] = [
  "README.md",
  "LICENSE",
  "SKILL.md",
  "references/",
  "docs/ui.png", // README shows it
];

/**
 * The relative link targets of a Markdown file as paths from the package
 * root ("references/cli.md"), anchors dropped; URLs and links within the
 * page are left out.
 */
export function relativeLinks(file: string, text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!.split("#")[0]!;
    if (target === "" || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    out.add(posix.normalize(posix.join(posix.dirname(file), target)));
  }
  return [...out].sort();
}

/** Whether `path` is one of `entries` or lies under one of its folders ("references/"). */
export function isCovered(path: string, entries: readonly string[]): boolean {
  return entries.some((e) => e.endsWith("/") ? path.startsWith(e) : path === e);
}
