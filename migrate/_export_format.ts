// The portable export format: JSON Lines, streamable. Line 1 is a header;
// then each namespace: a "namespace" line, its "key" lines in UTF-8 byte
// order, its "checkpoint" lines each followed by their "checkpoint-key"
// lines; last an "end" line with totals. Values are embedded as JSON, with
// U+2028 and U+2029 escaped, so every line is one line to any reader.
import { ValidationError } from "../errors.ts";
import type { Source, SourceCheckpoint, SourceNamespace } from "./_source.ts";
import type { ProgressEvent } from "./_copy.ts";
import type { CheckpointInfo, Head, StoredEntry } from "../types.ts";
import { newVersion } from "../core/_ids.ts";
import {
  encodeValue,
  MAX_VALUE_BYTES,
  validateCheckpointName,
  validateKey,
  validateMetadata,
  validateNamespace,
} from "../core/_validate.ts";
import { entryBytes } from "../backends/_shared.ts";
import { type Line, readLines } from "./_lines.ts";

/** The format name in the header line. */
export const EXPORT_FORMAT = "managing-state/export";
/**
 * The format version this code writes. Version 2 added lineage: the head on
 * namespace lines and the parent on checkpoint lines; version 1 files still
 * import (checkpoints without parents, no head).
 */
export const EXPORT_VERSION = 2;
/** Versions this code reads. */
const READABLE_VERSIONS = [1, 2];
/**
 * Longest line an export can hold: a value at its limit, every character
 * escaped twice as long (U+2028 as "\u2028"), and room for the rest.
 */
export const MAX_EXPORT_LINE_BYTES = 2 * MAX_VALUE_BYTES + 1024 * 1024;

/** Writes a source as export lines; returns totals. */
export async function writeExport(
  source: Source,
  write: (line: string) => void | Promise<void>,
  onProgress?: (event: ProgressEvent) => void,
): Promise<{ namespaces: number; keys: number; checkpoints: number }> {
  const totals = { namespaces: 0, keys: 0, checkpoints: 0 };
  // No time or source name here: one state gives the same file from every backend.
  await write(json({ format: EXPORT_FORMAT, version: EXPORT_VERSION }));
  for await (const ns of source.namespaces()) {
    totals.namespaces++;
    // The head is read before the keys: a namespace line comes first in the file.
    const head = ns.head ? await ns.head() : null;
    await write(json({ type: "namespace", name: ns.name, head }));
    let done = 0;
    for await (const page of ns.pages()) {
      for (const e of page) {
        totals.keys++;
        await write(entryLine("key", { ns: ns.name }, e));
      }
      done += page.length;
      onProgress?.({ namespace: ns.name, phase: "keys", done, total: ns.keyCount });
    }
    for await (const cp of ns.checkpoints()) {
      totals.checkpoints++;
      const { name, createdAt, auto, metadata, parent } = cp.info;
      await write(
        json({
          type: "checkpoint",
          ns: ns.name,
          name,
          createdAt,
          auto,
          metadata,
          parent,
          keyCount: cp.entries.length,
        }),
      );
      for (const e of cp.entries) {
        await write(entryLine("checkpoint-key", { ns: ns.name, checkpoint: name }, e));
      }
    }
  }
  await write(json({ type: "end", ...totals }));
  return totals;
}

function json(value: unknown): string {
  return escapeSeparators(JSON.stringify(value)) + "\n";
}

function entryLine(type: string, where: Record<string, string>, e: StoredEntry): string {
  const head = JSON.stringify({ type, ...where, key: e.key, expiresAt: e.expiresAt });
  return escapeSeparators(`${head.slice(0, -1)},"value":${e.value}}`) + "\n";
}

/**
 * JSON text with U+2028 and U+2029 written as escapes: JSON allows them raw
 * in strings (and only there), but line readers take them for line breaks.
 */
function escapeSeparators(text: string): string {
  return /[\u2028\u2029]/.test(text)
    ? text.replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")
    : text;
}

/** A namespace line's head (absent in version 1): null or a valid head. */
function readHead(h: unknown): Head | null {
  if (h === undefined || h === null) return null;
  const r = h as Record<string, unknown>;
  validateCheckpointName(r.name);
  if ((r.via !== "checkpoint" && r.via !== "restore") || !Number.isSafeInteger(r.at)) {
    throw new Error(`the head ${JSON.stringify(h)} is not {name, via, at}`);
  }
  return { name: r.name as string, via: r.via, at: r.at as number };
}

/** A parse error that names the file and line. */
function bad(file: string, line: number, why: string): ValidationError {
  return new ValidationError(
    `Export file ${file} line ${line}: ${why}. The file is damaged or not a managing-state export`,
  );
}

type ExportRecord = Record<string, unknown>;

/** Reads an export file as a migration source, streaming it line by line. */
export function exportFileSource(path: string): Source {
  const it = readLines(path, MAX_EXPORT_LINE_BYTES);
  let lineNo = 0;
  let peeked: { rec: ExportRecord; line: number } | null | undefined;
  const read = async (): Promise<{ rec: ExportRecord; line: number } | null> => {
    const r: IteratorResult<Line> = await it.next();
    if (r.done) return null;
    lineNo = r.value.line;
    try {
      const rec = JSON.parse(r.value.text);
      if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
        throw new Error("not an object");
      }
      return { rec, line: lineNo };
    } catch {
      throw bad(path, lineNo, "not valid JSON");
    }
  };
  const next = async () => {
    if (peeked === undefined) return await read();
    const p = peeked;
    peeked = undefined;
    return p;
  };
  const peekType = async () => {
    if (peeked === undefined) peeked = await read();
    return peeked?.rec.type;
  };
  /** Runs a validator and names the line when it fails. */
  const at = <T>(line: number, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw bad(path, line, (error as Error).message);
    }
  };
  const same = (line: number, field: string, got: unknown, want: string) => {
    if (got !== want) {
      throw bad(
        path,
        line,
        `${field} is ${JSON.stringify(got)} where ${JSON.stringify(want)} was expected`,
      );
    }
  };
  const entry = ({ rec, line }: { rec: ExportRecord; line: number }): StoredEntry => {
    at(line, () => validateKey(rec.key));
    if (!("value" in rec)) throw bad(path, line, "a key line has no value");
    const expiresAt = rec.expiresAt ?? null;
    if (expiresAt !== null && !Number.isSafeInteger(expiresAt)) {
      throw bad(path, line, `expiresAt ${JSON.stringify(expiresAt)} is not a time in ms or null`);
    }
    return {
      key: rec.key as string,
      // Every check save() applies: depth, numbers JSON cannot hold (1e400), lone surrogates, size.
      value: at(line, () => encodeValue(rec.value)),
      version: newVersion(),
      expiresAt: expiresAt as number | null,
    };
  };
  const totals = { namespaces: 0, keys: 0, checkpoints: 0 };
  return {
    name: "export file",
    close: async () => {
      await it.return(undefined);
    },
    async *namespaces() {
      const header = await next();
      if (header?.rec.format !== EXPORT_FORMAT) {
        throw bad(path, 1, "no managing-state export header");
      }
      if (!READABLE_VERSIONS.includes(header.rec.version as number)) {
        throw bad(
          path,
          1,
          `format version ${header.rec.version} is not supported (this reads ${
            READABLE_VERSIONS.join(" and ")
          })`,
        );
      }
      for (;;) {
        const got = await next();
        if (got === null) throw bad(path, lineNo + 1, "the file ends early (no end line)");
        const { rec, line } = got;
        if (rec.type === "end") {
          for (const [k, v] of Object.entries(totals)) {
            if (rec[k] !== v) {
              throw bad(path, line, `the end line counts ${rec[k]} ${k}, the file holds ${v}`);
            }
          }
          if (await next() !== null) throw bad(path, lineNo, "there are lines after the end line");
          return;
        }
        if (rec.type !== "namespace") {
          throw bad(path, line, `expected a namespace line, got ${JSON.stringify(rec.type)}`);
        }
        at(line, () => validateNamespace(rec.name));
        const head = at(line, () => readHead(rec.head));
        totals.namespaces++;
        const name = rec.name as string;
        const ns: SourceNamespace = {
          name,
          head: () => Promise.resolve(head),
          async *pages() {
            let page: StoredEntry[] = [];
            while (await peekType() === "key") {
              const r = (await next())!;
              same(r.line, "ns", r.rec.ns, name);
              page.push(entry(r));
              totals.keys++;
              if (page.length === 500) {
                yield page;
                page = [];
              }
            }
            if (page.length) yield page;
          },
          async *checkpoints() {
            while (await peekType() === "checkpoint") {
              const { rec: cp, line } = (await next())!;
              same(line, "ns", cp.ns, name);
              at(line, () => validateCheckpointName(cp.name));
              const parent = cp.parent ?? null;
              if (parent !== null) at(line, () => validateCheckpointName(parent));
              at(line, () => validateMetadata(cp.metadata ?? {}));
              if (!Number.isSafeInteger(cp.createdAt)) {
                throw bad(
                  path,
                  line,
                  `createdAt ${JSON.stringify(cp.createdAt)} is not a time in ms`,
                );
              }
              const entries: StoredEntry[] = [];
              while (await peekType() === "checkpoint-key") {
                const r = (await next())!;
                same(r.line, "ns", r.rec.ns, name);
                same(r.line, "checkpoint", r.rec.checkpoint, cp.name as string);
                entries.push(entry(r));
              }
              if (entries.length !== cp.keyCount) {
                throw bad(
                  path,
                  line,
                  `checkpoint ${JSON.stringify(cp.name)} is followed by ${entries.length} keys, ` +
                    `its line says ${cp.keyCount}`,
                );
              }
              totals.checkpoints++;
              const info: CheckpointInfo = {
                name: cp.name as string,
                createdAt: cp.createdAt as number,
                auto: cp.auto === true,
                metadata: (cp.metadata ?? {}) as CheckpointInfo["metadata"],
                keyCount: entries.length,
                bytes: entries.reduce((n, e) => n + entryBytes(e), 0),
                parent: parent as string | null,
              };
              yield { info, entries } satisfies SourceCheckpoint;
            }
          },
        };
        yield ns;
      }
    },
  };
}

/**
 * Reads a whole export file and checks every line, writing nothing: an
 * import runs it first, so a bad line anywhere changes nothing.
 */
export async function checkExportFile(path: string): Promise<void> {
  const source = exportFileSource(path);
  try {
    for await (const ns of source.namespaces()) {
      for await (const _ of ns.pages()) { /* checked as read */ }
      for await (const _ of ns.checkpoints()) { /* checked as read */ }
    }
  } finally {
    await source.close();
  }
}
