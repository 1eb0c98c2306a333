// Usage errors and help text.

/** A mistake in the command line itself (exit code 2). */
export class UsageError extends Error {
  /** Creates the error; the message says what to fix. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Record<string, { type: "string" | "boolean"; help: string }> = {
  backend: { type: "string", help: "memory, json (default), sqlite, redis, kv or postgres" },
  namespace: { type: "string", help: 'the namespace (default "default")' },
  dir: { type: "string", help: "the state folder (default .claude/state)" },
  url: { type: "string", help: "Redis or PostgreSQL URL, or Deno KV path/URL" },
  path: { type: "string", help: "SQLite database file (default <dir>/state.db)" },
  json: { type: "boolean", help: "machine-readable output: one JSON document on stdout" },
  debug: { type: "boolean", help: "print stack traces of errors" },
  help: { type: "boolean", help: "show help" },
};

/** Exit codes; part of the CLI's contract. */
export const EXIT = { ok: 0, error: 1, usage: 2, notFound: 3, conflict: 4, unknown: 5 } as const;

/** Formats an options table. */
export function optionLines(
  options: Record<string, { type: "string" | "boolean"; help: string }>,
  notes: Record<string, string> = {},
): string {
  const rows = Object.entries(options).map(([name, o]) => [
    `  --${name}${o.type === "string" ? " <value>" : ""}`,
    notes[name] === undefined ? o.help : `${o.help} [${notes[name]}]`,
  ]);
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([a, b]) => `${a!.padEnd(width)}  ${b}`).join("\n");
}
