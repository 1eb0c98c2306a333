// One namespace of the JSON backend in memory, and the file work that keeps
// it in step with the snapshot and journal on disk (see json.ts for the design).
import { joinPath as join } from "./_sys_platform.ts";
import { fs } from "./_fs_platform.ts";
import { contention } from "./_errors_file.ts";
import {
  atomicWrite,
  fileIdentity,
  fsyncDir,
  isNotFound,
  openFile,
  removeQuietly,
  tempPathFor,
  truncateFile,
  writeNewFile,
} from "./_files.ts";
import {
  applyJournal,
  damaged,
  Entries,
  FILES,
  formatJournalHeader,
  formatSnapshot,
  type JournalRecord,
  readJournalFd,
  readSnapshot,
} from "./_json_format.ts";
import type { RequestLog } from "./_requests.ts";
import type { Head } from "../types.ts";

const { closeSync, linkSync, renameSync } = fs;

/**
 * What the JSON backend knows about one namespace, and the file work that
 * keeps it current: reading the snapshot and journal, pinning the journal,
 * cutting a torn tail, and compacting into a new generation.
 */
export class Space {
  readonly dir: string;
  entries = new Entries();
  sorted: string[] | null = null;
  generation = 0;
  /** The snapshot's size in UTF-8 bytes (compared with the journal's byte offset). */
  snapshotBytes = 0;
  /**
   * The journal as last read: its inode and the size seen. `pin` keeps that
   * inode open, so its number cannot be reused by a newer journal: while the
   * path shows the same inode, it is the same file, and only appends (or a
   * torn tail being replaced) can have changed it.
   */
  journal: { ino: number; size: number } | null = null;
  /** An open descriptor of the journal in `journal`, or null. */
  pin: number | null = null;
  /** Bytes of the journal applied (whole lines). */
  offset = 0;
  /** Moves on every change seen or made (from the backend's clock): the change token. */
  changes = 0;
  readonly #tick: () => number;

  /** A namespace folder; `tick` gives the backend's next change number. */
  constructor(dir: string, tick: () => number) {
    this.dir = dir;
    this.#tick = tick;
  }

  /**
   * Brings the in-memory copy up to date with the files. Costs one stat when
   * nothing changed; reads only the new journal lines when the journal grew.
   * `locked`: the caller holds the namespace's lock.
   */
  sync(locked = false): void {
    const path = join(this.dir, FILES.journal);
    const st = fileIdentity(path);
    const j = this.journal;
    if (st === null || j === null || this.pin === null || st.ino !== j.ino) {
      return this.load(locked);
    }
    if (st.size === this.offset) return; // the same file, nothing appended
    if (st.size < this.offset) return this.load(locked);
    // Read from the pinned descriptor: the very file we applied so far.
    const read = readJournalFd(this.pin, path, this.offset, false);
    const r = applyJournal(read.bytes, this.entries, false);
    if (r.bad.length) throw damaged(`${path} at byte ${this.offset}`, new Error("bad line"));
    if (r.consumed > 0) {
      this.offset += r.consumed;
      this.sorted = null;
      this.changes = this.#tick();
    }
    // A torn tail (r.consumed < bytes read) stays unapplied and is re-read next time.
    this.journal = { ino: st.ino, size: this.offset + read.bytes.length };
  }

  /** Reads the snapshot and the whole journal, and pins the journal read; `locked`: under the lock. */
  load(locked = false): void {
    for (let attempt = 0; attempt < 20; attempt++) {
      const snap = readSnapshot(join(this.dir, FILES.snapshot));
      const path = join(this.dir, FILES.journal);
      const file = openFile(path);
      const fd = file?.fd ?? null;
      let keep = false;
      try {
        const raw = file === null ? null : readJournalFd(file.fd, path, 0, true, file.st);
        const entries = snap?.entries ?? new Entries();
        let offset = 0;
        let journal: Space["journal"] = null;
        if (raw) {
          // Journals are created whole (temp file + rename) after their snapshot:
          // a missing header or a journal without a snapshot is damage.
          if (raw.generation === undefined) throw damaged(path, new Error("no header line"));
          if (!snap) {
            // The snapshot is renamed into place before the first journal is:
            // read again, in case the namespace was created between our reads.
            if (attempt < 3) continue;
            throw damaged(join(this.dir, FILES.snapshot), new Error("missing"));
          }
          if (raw.generation > snap.generation) {
            // A writer renames the new snapshot before the new journal, so a
            // journal one generation ahead means one replaced both files
            // between our two reads: read again. Further ahead, or with the
            // lock held (no writer is between them), it is damage.
            if (raw.generation === snap.generation + 1 && !locked) continue;
            throw damaged(
              path,
              new Error(
                `its generation ${raw.generation} is ahead of the snapshot's ${snap.generation}`,
              ),
            );
          }
          if (raw.generation === snap.generation) {
            const r = applyJournal(raw.bytes, entries, true);
            if (r.bad.length) {
              throw damaged(`${path} line ${r.bad[0]}`, new Error("unreadable line"));
            }
            offset = r.consumed;
            journal = { ino: raw.ino, size: raw.bytes.length };
            keep = true;
          }
          // An older journal: a writer is between the two renames of a compaction
          // (or crashed there). Nothing to pin: the next read loads again.
        }
        this.unpin();
        Object.assign(this, {
          entries,
          sorted: null,
          generation: snap?.generation ?? 0,
          snapshotBytes: snap?.bytes ?? 0,
          journal,
          pin: keep ? fd : null,
          offset,
          changes: this.#tick(),
        });
        return;
      } finally {
        if (!keep && fd !== null) closeSync(fd);
      }
    }
    throw contention(`Namespace folder ${this.dir} kept changing while being read`);
  }

  /** Under the lock: records (and pins) the journal now at the namespace's path. */
  pinJournal(): void {
    const path = join(this.dir, FILES.journal);
    const file = openFile(path);
    if (file === null) throw damaged(path, new Error("missing"));
    const { fd, st } = file;
    this.unpin();
    this.pin = fd;
    this.journal = { ino: st.ino, size: st.size };
  }

  unpin(): void {
    if (this.pin !== null) closeSync(this.pin);
    this.pin = null;
    this.journal = null;
  }

  /** Under the lock: make sure a snapshot and a journal of its generation exist, with no torn tail. */
  prepareJournal(): void {
    if (this.generation === 0) return this.compact(this.entries);
    const path = join(this.dir, FILES.journal);
    if (this.journal === null || this.offset === 0) {
      atomicWrite(path, formatJournalHeader(this.generation));
      this.pinJournal();
      this.offset = this.journal!.size;
    } else if (this.journal.size > this.offset) {
      truncateFile(path, this.offset); // a crashed writer's partial line
      this.journal = { ino: this.journal.ino, size: this.offset };
    }
  }

  /**
   * Under the lock: writes `entries` as a new snapshot generation and starts
   * a new journal. The record of request ids and the head are `state`
   * (default: those of `entries`, or those in memory), so a restore or clear
   * records its id and moves the head in the same snapshot. A new `Entries`
   * handed over (not the one in memory) becomes the one in memory as it is
   * when nothing in it has expired, saving a copy.
   */
  compact(
    entries: Map<string, JournalRecord>,
    state: { requests: RequestLog; head: Head | null } = entries instanceof Entries
      ? entries
      : this.entries,
  ): void {
    const now = Date.now();
    let live: Entries;
    if (entries instanceof Entries && entries !== this.entries && allLive(entries, now)) {
      live = entries;
    } else {
      live = new Entries();
      for (const [key, r] of entries) {
        if (r.expiresAt === null || r.expiresAt > now) live.set(key, r);
      }
    }
    live.requests = state.requests;
    live.head = state.head;
    const generation = this.generation + 1;
    const snapPath = join(this.dir, FILES.snapshot);
    const journalPath = join(this.dir, FILES.journal);
    const bytes = new TextEncoder().encode(formatSnapshot(generation, live, state));
    const temp = tempPathFor(snapPath);
    try {
      writeNewFile(temp, bytes);
    } catch (error) {
      removeQuietly(temp);
      throw error;
    }
    // Keep the previous generation (snapshot + journal) as the last good copy.
    keepBackup(snapPath, join(this.dir, FILES.snapshotBackup));
    keepBackup(journalPath, join(this.dir, FILES.journalBackup));
    renameSync(temp, snapPath);
    atomicWrite(journalPath, formatJournalHeader(generation), false);
    fsyncDir(this.dir);
    this.pinJournal();
    Object.assign(this, {
      entries: live,
      sorted: null,
      generation,
      snapshotBytes: bytes.length,
      offset: formatJournalHeader(generation).length,
      changes: this.#tick(),
    });
  }
}

/** Whether no record of `entries` has expired at `now`. */
function allLive(entries: Map<string, JournalRecord>, now: number): boolean {
  for (const r of entries.values()) if (r.expiresAt !== null && r.expiresAt <= now) return false;
  return true;
}

/** Hard-links `path` to `backup` (replacing it), so the old file survives the rename over `path`. */
export function keepBackup(path: string, backup: string): void {
  const temp = tempPathFor(backup);
  try {
    linkSync(path, temp);
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  renameSync(temp, backup);
}
