// Reading an export file line by line, with a limit on the length of a line:
// lines end at "\n" only (not at U+2028 or U+2029, as node:readline would
// have it), and a line longer than the limit is an error, never read whole.
import { createReadStream } from "node:fs";
import { ValidationError } from "../errors.ts";

/** One line and its 1-based number. */
export interface Line {
  text: string;
  line: number;
}

/**
 * The lines of the file at `path`, streamed. A "\r" before the "\n" is
 * dropped; bytes that are not UTF-8 and lines over `maxBytes` are
 * ValidationErrors naming the line.
 */
export async function* readLines(path: string, maxBytes: number): AsyncGenerator<Line> {
  const stream = createReadStream(path);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let parts: Uint8Array[] = [];
  let size = 0;
  let line = 1;
  const take = (piece: Uint8Array) => {
    size += piece.length;
    if (size > maxBytes) {
      throw new ValidationError(
        `Export file ${path} line ${line} is longer than ${maxBytes} bytes, more than any ` +
          `export line can be: the file is damaged or not a managing-state export`,
      );
    }
    if (piece.length) parts.push(piece);
  };
  const text = (): Line => {
    const bytes = parts.length === 1 ? parts[0]! : concat(parts, size);
    const end = bytes.at(-1) === 13 ? bytes.length - 1 : bytes.length;
    let decoded: string;
    try {
      decoded = decoder.decode(bytes.subarray(0, end));
    } catch {
      throw new ValidationError(`Export file ${path} line ${line} is not valid UTF-8`);
    }
    const out = { text: decoded, line: line++ };
    parts = [];
    size = 0;
    return out;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        take(chunk.subarray(start, nl));
        yield text();
        start = nl + 1;
      }
      take(chunk.subarray(start));
    }
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError(
      `Cannot read export file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    stream.destroy();
  }
  if (size > 0) yield text(); // a last line without its newline
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
