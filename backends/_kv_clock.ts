// The change clock of a local Deno KV file. Deno KV keeps a local database
// in SQLite's WAL mode, and SQLite keeps the header of the WAL index in the
// `<file>-shm` file, shared by every process that has the database open: its
// change counter, last frame and salts move with every commit any process
// makes, before that commit is acknowledged to its writer, and a commit is
// not visible to any reader before its header is. Reading those 96 bytes
// (both copies of the header; a torn read only looks like a change) costs a
// couple of microseconds, where a Deno KV read is a trip to its SQLite thread.
//
// The backend uses it two ways:
// - as its change token (Backend.changeToken): equal headers mean no commit
//   landed in between, in any process, so a never-stale cache can answer
//   from memory;
// - as a seqlock for reads: a read made between two equal headers, equal to
//   one at which the namespace was seen with no committed transaction, saw
//   that state, so it needs no read of the namespace head.
//
// It is only trusted while it proves live: if a commit of this process lands
// and the header did not move, the clock switches itself off for good (the
// backend then reads the head and the change key as before). `kv.watch()`
// cannot do this job: on a local file it does not report other processes'
// commits at all.
import { closeSync, existsSync, openSync, readSync } from "node:fs";

/** SQLite's WAL index format version (WALINDEX_MAX_VERSION), at the start of the header. */
const WAL_INDEX_VERSION = 3007000;
/** Bytes read: both copies of the 48-byte header. */
const HEADER_BYTES = 96;

/** Reads the WAL index header of a local Deno KV file. */
export class WalClock {
  #fd: number | null;
  readonly #bytes = new Uint8Array(HEADER_BYTES);
  readonly #ints = new Uint32Array(this.#bytes.buffer);

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** The clock of the database file at `path` (opened already), or null when it has none. */
  static open(path: string): WalClock | null {
    // No WAL file: the database is not in WAL mode, and a `-shm` file is a stale left-over.
    if (!existsSync(`${path}-wal`)) return null;
    let fd: number;
    try {
      fd = openSync(`${path}-shm`, "r");
    } catch {
      return null; // not in WAL mode, or not readable with the permissions given
    }
    const clock = new WalClock(fd);
    // Version (native byte order) and the isInit flag of the first copy.
    if (clock.read() === null || clock.#ints[0] !== WAL_INDEX_VERSION || clock.#bytes[12] !== 1) {
      clock.close();
      return null;
    }
    return clock;
  }

  /** Whether the clock is still trusted. */
  get live(): boolean {
    return this.#fd !== null;
  }

  /** The header as a string (compare for equality only), or null when the clock is off. */
  read(): string | null {
    if (this.#fd === null) return null;
    try {
      if (readSync(this.#fd, this.#bytes, 0, HEADER_BYTES, 0) !== HEADER_BYTES) {
        this.close();
        return null;
      }
    } catch {
      this.close();
      return null;
    }
    // Latin-1 characters: a plain string, safe to print or send as JSON.
    return String.fromCharCode.apply(null, this.#bytes as unknown as number[]);
  }

  /**
   * Called after a commit of this process landed: `before` is the header read
   * before it. An unchanged header means the clock does not follow commits:
   * it is switched off.
   */
  committed(before: string | null): void {
    if (before !== null && this.read() === before) this.close();
  }

  /** Switches the clock off and closes its file. */
  close(): void {
    const fd = this.#fd;
    this.#fd = null;
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // Already closed: nothing to release.
      }
    }
  }
}
