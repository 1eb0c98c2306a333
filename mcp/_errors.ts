// Errors as tool results: `isError`, the error's stable code first, then what
// failed and a hint in this server's terms (tool and argument names, never
// library calls or CLI flags). Nothing here throws: a tool call always gets
// an answer, and the server keeps running.
import {
  BackendError,
  CheckpointExistsError,
  CheckpointNotFoundError,
  KeyNotFoundError,
  StateError,
} from "../errors.ts";
import { redactText } from "../cli/_redact.ts";

/** A tool's error result: one text block, `CODE: message. Hint: ...`. */
export interface ErrorResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  isError: true;
}

/** An error of the server's own, with its code and hint (e.g. a key missing from a checkpoint). */
export class ToolError extends Error {
  /** Creates the error; `hint` says what to call or pass instead. */
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = "ToolError";
  }
}

/** Codes the server adds to the library's (`StateErrorCode`). */
export type ServerErrorCode = "READ_ONLY" | "UNKNOWN_TOOL" | "INTERNAL";

/** The result for an error a tool threw; `url` is the backend's, so its password is hidden. */
export function errorResult(error: unknown, url?: string): ErrorResult {
  const [code, message, hint] = describeError(error);
  return result(code, redactText(message, url), hint);
}

/** The result for a failure with a code of the server's own. */
export function result(code: string, message: string, hint: string): ErrorResult {
  const line = `${code}: ${
    message.replace(/\s*\n\s*/g, " ").replace(/[.\s]+$/, "")
  }. Hint: ${hint}`;
  return { content: [{ type: "text", text: line }], isError: true };
}

function describeError(error: unknown): [string, string, string] {
  if (error instanceof ToolError) return [error.code, error.message, error.hint];
  if (error instanceof KeyNotFoundError) {
    return [
      error.code,
      `Key ${JSON.stringify(error.key)} not found in namespace ${JSON.stringify(error.namespace)}`,
      'call "keys" to list the keys, or give "default" to "load"',
    ];
  }
  if (error instanceof CheckpointNotFoundError) {
    return [
      error.code,
      error.message.replace(/\s*\(listCheckpoints\(\)[^)]*\)$/, ""),
      'call "checkpoints" to list them',
    ];
  }
  if (error instanceof CheckpointExistsError) {
    return [
      error.code,
      `Checkpoint ${JSON.stringify(error.checkpoint)} already exists`,
      'pick another "name", leave "name" out for a generated one, or give "overwrite": true',
    ];
  }
  if (error instanceof StateError) {
    // The library's messages say what failed; their hints may name library options.
    const message = error.message
      .replace(/^update\((".*")\) in namespace/, "Key $1 in namespace")
      .replace(/: retry later or raise maxUpdateAttempts$/, "");
    // Calling a write again after a lost reply could apply it twice (a new request).
    const hint = error instanceof BackendError && error.outcomeUnknown
      ? 'the write may have been applied (its reply was lost): call "load" to check before ' +
        "calling again"
      : error instanceof BackendError && error.transient
      ? "a transient fault (busy, connection lost): call again"
      : HINTS[error.code] ?? "see the message";
    return [error.code, message, hint];
  }
  return [
    "INTERNAL",
    error instanceof Error ? error.message : String(error),
    "this is a bug in the server or its backend: report it with the message",
  ];
}

const HINTS: Partial<Record<string, string>> = {
  VALIDATION: "fix the arguments and call again; nothing was written",
  CONFLICT: 'another writer changed the key first: call "load" for its current value and ' +
    "version, then retry; nothing was written",
  BACKEND: "the store failed; nothing is known to be written",
  STATE_DAMAGED: 'stop writing and run "managing-state recover" for this namespace',
  CLOSED: "the server is shutting down: restart it",
};

/**
 * Rewrites an error the SDK itself produced before a tool ran (arguments that
 * fail the input schema, an unknown or disabled tool) into the same form.
 */
export function sdkErrorResult(
  message: string,
  refused: (tool: string) => boolean,
): ErrorResult {
  const invalid = /^(?:MCP error -?\d+: )?Input validation error: (.*)$/s.exec(message);
  if (invalid) {
    return result(
      "VALIDATION",
      invalid[1]!,
      "the tool's inputSchema (tools/list) gives the arguments; nothing was written",
    );
  }
  const missing = /Tool (.+) (not found|disabled)$/.exec(message);
  if (missing) {
    return missing[2] === "disabled" || refused(missing[1]!)
      ? result(
        "READ_ONLY",
        `Tool ${JSON.stringify(missing[1])} writes, and this server runs with --read-only`,
        "use the read tools (tools/list shows them), or start the server without --read-only",
      )
      : result(
        "UNKNOWN_TOOL",
        `There is no tool ${JSON.stringify(missing[1])}`,
        "tools/list shows the tools",
      );
  }
  return errorResult(new Error(message));
}
