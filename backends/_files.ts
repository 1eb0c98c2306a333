// The JSON backend's only way to touch files. Inside the state folder it
// never follows a symbolic link (O_NOFOLLOW, lstat) and never reads or
// writes anything but a regular file, so a planted link, FIFO or device is
// reported as damage instead of being read, written or deleted through; it
// refuses folders that another user owns or may write; files are created
// 0600 and folders 0700; replacement is atomic (unique temp file, fsync,
// rename, fsync of the folder).
import { fs, type Stats } from "./_fs_platform.ts";
import {
  basenamePath as basename,
  dirnamePath as dirname,
  getuid,
  isWindows,
  joinPath as join,
  pid,
} from "./_sys_platform.ts";
import { BackendError, StateDamagedError } from "../errors.ts";

export { type FileIdentity, fileIdentity } from "./_files_platform.ts";

/** Prefix of temp files; `recover()` removes leftovers with it. */
export const TEMP_PREFIX = ".tmp-";

const {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} = fs;

// O_NOFOLLOW and O_NONBLOCK do not exist on Windows (0 there: no effect).
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// Opening a FIFO for reading would wait for a writer; with O_NONBLOCK it
// opens at once and fstat shows what it is. Regular files ignore the flag.
const NONBLOCK = constants.O_NONBLOCK ?? 0;
const READ = constants.O_RDONLY! | NOFOLLOW | NONBLOCK;
const APPEND = constants.O_WRONLY! | constants.O_APPEND! | constants.O_CREAT! | NOFOLLOW | NONBLOCK;
const CREATE_NEW = constants.O_WRONLY! | constants.O_CREAT! | constants.O_EXCL! | NOFOLLOW;
const WRITE = constants.O_WRONLY! | NOFOLLOW | NONBLOCK;

/** The error for something in the state folder that is not what it must be. */
export function notRegular(path: string, what: string): StateDamagedError {
  return new StateDamagedError(
    `State file ${path} is ${what}: the JSON backend never follows links or opens special ` +
      `files inside the state folder. Remove it, or run recover() (CLI: "recover") to move it aside`,
  );
}

/** What kind of thing an lstat found, in words. */
export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSocket()) return "a socket";
  if (st.isDirectory()) return "a folder";
  return "a regular file";
}

/** Opens `path` with `flags`; ELOOP (a link where O_NOFOLLOW is set) is damage. */
function open(path: string, flags: number, mode = 0o600): number {
  try {
    return openSync(path, flags, mode);
  } catch (error) {
    if (code(error) === "ELOOP") throw notRegular(path, "a symbolic link");
    // A FIFO opened for writing with O_NONBLOCK and no reader.
    if (code(error) === "ENXIO") throw notRegular(path, "a FIFO or device");
    throw error;
  }
}

/** Closes `fd` and throws unless it is a regular file. */
function mustBeFile(fd: number, path: string): Stats {
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw notRegular(path, kindOf(st));
  }
  return st;
}

/** Opens an existing regular file for reading; null when there is none. */
export function openRead(path: string): number | null {
  return openFile(path)?.fd ?? null;
}

/** Opens an existing regular file for reading, with its fstat; null when there is none. */
export function openFile(path: string): { fd: number; st: Stats } | null {
  let fd: number;
  try {
    fd = open(path, READ);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  return { fd, st: mustBeFile(fd, path) };
}

/** Opens a regular file for appending, creating it (0600) if needed, with its fstat. */
export function openAppend(path: string): { fd: number; st: Stats } {
  const fd = open(path, APPEND);
  return { fd, st: mustBeFile(fd, path) };
}

/**
 * Reads at most `maxBytes` of a small file without an fstat (which costs
 * more than the read under Deno): never through a link, never waiting on a
 * FIFO. Null when there is none; `{ text: null }` when it is bigger than
 * `maxBytes` or cannot be read as a file.
 */
export function readSmall(path: string, maxBytes: number): { text: string | null } | null {
  let fd: number;
  try {
    fd = open(path, READ);
  } catch (error) {
    if (isNotFound(error)) return null;
    if (error instanceof StateDamagedError) return { text: null };
    throw error;
  }
  try {
    const bytes = new Uint8Array(maxBytes + 1);
    let got = 0;
    for (
      let n;
      got < bytes.length && (n = readSync(fd, bytes, got, bytes.length - got, got)) > 0;
    ) {
      got += n;
    }
    return { text: got > maxBytes ? null : new TextDecoder().decode(bytes.subarray(0, got)) };
  } catch {
    return { text: null }; // a folder (EISDIR), a FIFO with no writer (EAGAIN)
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a whole regular file as UTF-8; null when it does not exist. A file
 * over `maxBytes` is damage: a state file never grows that big.
 */
export function readText(path: string, maxBytes: number): string | null {
  const file = openFile(path);
  if (file === null) return null;
  try {
    return new TextDecoder().decode(readAll(file.fd, path, 0, maxBytes, file.st.size));
  } finally {
    closeSync(file.fd);
  }
}

/**
 * Reads an open file from `offset` to its end (`fileSize`, when known, saves
 * an fstat), refusing more than `maxBytes`.
 */
export function readAll(
  fd: number,
  path: string,
  offset: number,
  maxBytes: number,
  fileSize = fstatSync(fd).size,
): Uint8Array {
  const size = Math.max(0, fileSize - offset);
  if (size > maxBytes) {
    throw new StateDamagedError(
      `State file ${path} is ${size} bytes, more than the ${maxBytes} it can hold: ` +
        `it is damaged or not ours. Move it aside, or run recover()`,
    );
  }
  const bytes = new Uint8Array(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, bytes, got, size - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return bytes.subarray(0, got);
}

/** Cuts a regular file to `size` bytes. */
export function truncateFile(path: string, size: number): void {
  const fd = open(path, WRITE);
  try {
    mustBeFile(fd, path);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** A unique temp file path next to `path`; it names this process, so recover() knows whose it is. */
export function tempPathFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return join(
    dirname(path),
    `${TEMP_PREFIX}${basename(path)}-${pid}.${rand[0]!.toString(36)}${rand[1]!.toString(36)}`,
  );
}

/** The process id a temp file name records, or null (a name from before it did). */
export function tempOwner(name: string): number | null {
  const m = /-(\d+)\.[0-9a-z]+$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Writes `text` to a new private file (fsynced unless `sync` is false); fails if anything, a link too, is there. */
export function writeNewFile(path: string, text: string | Uint8Array, sync = true): void {
  const fd = open(path, CREATE_NEW);
  try {
    writeAll(fd, text);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically with `text`: readers see the old or the new file, never a mix. */
export function atomicWrite(path: string, text: string, syncDir = true): void {
  const temp = tempPathFor(path);
  try {
    writeNewFile(temp, text);
    // rename() replaces a link at `path` itself; it never writes through one.
    renameSync(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  if (syncDir) fsyncDir(dirname(path));
}

/** Writes a whole string or byte array to a file descriptor; returns the bytes written. */
export function writeAll(fd: number, text: string | Uint8Array): number {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  return bytes.length;
}

/** Flushes a folder's entries (renames, creations) to disk. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY! | NOFOLLOW | (constants.O_DIRECTORY ?? 0));
    fsyncSync(fd);
  } catch {
    // Some platforms cannot open or fsync a folder; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Removes a file (a link itself, never its target); false when it was not there. */
export function removeFile(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Removes a file, ignoring every error (cleanup after another failure). */
export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch { /* already gone */ }
}

/** lstat, or null when nothing is there. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    // ENOTDIR: a file where a folder would be (init's config, state.db): nothing there.
    if (isNotFound(error) || code(error) === "ENOTDIR") return null;
    throw error;
  }
}

/** Whether a regular file is at `path` (anything else there is damage). */
export function fileExists(path: string): boolean {
  const st = lstatOrNull(path);
  if (st === null) return false;
  if (!st.isFile()) throw notRegular(path, kindOf(st));
  return true;
}

/**
 * Names in a folder inside the state folder, or none if it does not exist.
 * A link or anything else in its place is damage.
 */
export function listDir(dir: string): string[] {
  const st = lstatOrNull(dir);
  if (st === null) return [];
  if (!st.isDirectory()) throw notRegular(dir, kindOf(st));
  return readdirSync(dir);
}

/**
 * Creates a folder (and its parents) readable only by the owner, or checks
 * the one that is there: ours, not writable by others, and a real folder
 * (unless `follow`: the state folder itself may be a link).
 */
export function ensurePrivateDir(dir: string, follow = false): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkFolder(dir, follow);
}

/**
 * Throws unless `dir` (if it exists) is a folder this user owns and others
 * cannot write; returns whether it exists. With `follow`, a link to such a
 * folder is fine (the state folder itself may be one); inside it, a link is damage.
 */
export function checkFolder(dir: string, follow = false): boolean {
  let st: Stats;
  try {
    st = follow ? statSync(dir) : lstatSync(dir);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  if (!st.isDirectory()) throw notRegular(dir, kindOf(st));
  const uid = ownUid();
  if (uid === null) return true; // Windows: no POSIX owners or modes
  if (st.uid !== uid) {
    throw new BackendError(
      `State folder ${dir} belongs to another user (uid ${st.uid}), who could replace its ` +
        `files: use a folder of your own (--dir), or make it yours with chown`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new BackendError(
      `State folder ${dir} is writable by other users (mode ${
        (st.mode & 0o777).toString(8).padStart(4, "0")
      }), who could replace its files: run "chmod go-w ${dir}" (or chmod 700)`,
    );
  }
  return true;
}

let uidCache: number | null | undefined;

/** This process's user id; null where there is none (Windows). */
function ownUid(): number | null {
  // Under Deno this needs --allow-sys=uid; a refusal reaches the caller as a permission error.
  return uidCache ??= isWindows ? null : getuid();
}

/** Whether an error is a missing-file error. */
export function isNotFound(error: unknown): boolean {
  return code(error) === "ENOENT";
}

/** The `code` of a Node-style error. */
export function code(error: unknown): string | undefined {
  return (error as { code?: string })?.code;
}
