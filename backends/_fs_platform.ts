// Runtime seam for file access: the part of node:fs the file backends and
// the CLI use, with node:fs's signatures and errors. Node gets node:fs
// itself. Deno gets its own file API behind the same names, because loading
// node:fs costs a Deno process about as long as the rest of a CLI call
// (`deno task bench`, CLI start-up). Deno's open() has no O_NOFOLLOW or
// O_NONBLOCK, so with O_NOFOLLOW a path is lstat'ed first: a link fails
// with ELOOP, a FIFO, socket or device is never opened (it gets a handle
// that fstat describes and reads refuse, as node:fs's O_NONBLOCK open would
// give), and a regular file opened is checked to be the one lstat saw
// (device and inode), so one swapped for a link in between fails with ELOOP.

/** File status, as node:fs's `Stats` provides the parts used here. */
export interface Stats {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  size: number;
  ino: number;
  dev: number;
  mode: number;
  uid: number;
  mtimeMs: number;
}

/** The node:fs functions of this seam. */
export interface FileSystem {
  constants: Record<string, number | undefined>;
  openSync(path: string, flags: number | string, mode?: number): number;
  closeSync(fd: number): void;
  fstatSync(fd: number): Stats;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, len?: number): void;
  readSync(
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  lstatSync(path: string): Stats;
  statSync(path: string): Stats;
  existsSync(path: string): boolean;
  mkdirSync(path: string, options: { recursive: boolean; mode?: number }): string | undefined;
  readdirSync(path: string): string[];
  readFileSync(path: string): Uint8Array;
  renameSync(from: string, to: string): void;
  linkSync(existing: string, path: string): void;
  unlinkSync(path: string): void;
  rmdirSync(path: string): void;
  rmSync(path: string, options: { force?: boolean; recursive?: boolean }): void;
}

interface DenoInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  size: number;
  mtime: Date | null;
  dev: number;
  ino: number | null;
  mode: number | null;
  uid: number | null;
  isFifo: boolean | null;
  isCharDevice: boolean | null;
  isBlockDevice: boolean | null;
  isSocket: boolean | null;
}

interface DenoFile {
  readSync(p: Uint8Array): number | null;
  writeSync(p: Uint8Array): number;
  seekSync(offset: number, whence: number): number;
  statSync(): DenoInfo;
  syncSync(): void;
  truncateSync(len?: number): void;
  close(): void;
}

interface DenoFs {
  openSync(path: string, options: Record<string, boolean | number>): DenoFile;
  lstatSync(path: string): DenoInfo;
  statSync(path: string): DenoInfo;
  mkdirSync(path: string, options: { recursive: boolean; mode?: number }): void;
  readDirSync(path: string): Iterable<{ name: string }>;
  readFileSync(path: string): Uint8Array;
  renameSync(from: string, to: string): void;
  linkSync(existing: string, path: string): void;
  removeSync(path: string, options?: { recursive?: boolean }): void;
}

const deno = (globalThis as { Deno?: DenoFs & { version?: unknown } }).Deno;

// Flag bits of this seam on Deno (Linux's values; only this file reads them).
const O = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
};
const STRING_FLAGS: Record<string, number> = {
  r: O.O_RDONLY,
  wx: O.O_WRONLY | O.O_CREAT | O.O_EXCL | O.O_TRUNC,
};

/** A node:fs-style error (`ENOENT: no such file or directory, open '/x'`) from a Deno one. */
function nodeError(error: unknown, syscall: string, path: string, dest?: string): unknown {
  const e = error as { code?: unknown; message?: string };
  if (typeof e?.code !== "string" || typeof e.message !== "string") return error;
  const [, text = e.message, errno] = /^(.*?) \(os error (\d+)\)/.exec(e.message) ?? [];
  const where = dest === undefined ? path : `${path}' -> '${dest}`;
  return errnoError(e.code, text.replace(/^./, (c) => c.toLowerCase()), syscall, where, errno);
}

function errnoError(
  code: string,
  text: string,
  syscall: string,
  path: string,
  errno?: string,
): Error {
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${path}'`), {
    code,
    syscall,
    path,
    ...(errno === undefined ? {} : { errno: -Number(errno) }),
  });
}

function toStats(i: DenoInfo): Stats {
  return {
    isFile: () => i.isFile,
    isDirectory: () => i.isDirectory,
    isSymbolicLink: () => i.isSymlink,
    isFIFO: () => i.isFifo === true,
    isCharacterDevice: () => i.isCharDevice === true,
    isBlockDevice: () => i.isBlockDevice === true,
    isSocket: () => i.isSocket === true,
    size: i.size,
    ino: i.ino ?? 0,
    dev: i.dev,
    mode: i.mode ?? 0,
    uid: i.uid ?? 0,
    mtimeMs: i.mtime?.getTime() ?? 0,
  };
}

/** An open file, or a special file that was not opened (its lstat stands in for fstat). */
type Handle = { file: DenoFile } | { special: DenoInfo; path: string };

function denoFileSystem(d: DenoFs): FileSystem {
  const handles = new Map<number, Handle>();
  let nextFd = 3;
  const call = <T>(syscall: string, path: string, fn: () => T, dest?: string): T => {
    try {
      return fn();
    } catch (error) {
      throw nodeError(error, syscall, path, dest);
    }
  };
  const handle = (fd: number, syscall: string): Handle => {
    const h = handles.get(fd);
    if (!h) throw errnoError("EBADF", "bad file descriptor", syscall, String(fd));
    return h;
  };
  const file = (fd: number, syscall: string): DenoFile => {
    const h = handle(fd, syscall);
    if ("file" in h) return h.file;
    throw errnoError("EAGAIN", "resource temporarily unavailable", syscall, h.path);
  };
  const add = (h: Handle): number => {
    handles.set(nextFd, h);
    return nextFd++;
  };
  const lstatOrNull = (path: string): DenoInfo | null => {
    try {
      return d.lstatSync(path);
    } catch (error) {
      if ((error as { code?: string })?.code === "ENOENT") return null;
      throw nodeError(error, "open", path);
    }
  };

  function openSync(path: string, flags: number | string, mode = 0o666): number {
    const f = typeof flags === "string" ? STRING_FLAGS[flags] : flags;
    if (f === undefined) throw new TypeError(`Unsupported open flags ${flags}`);
    const access = f & 3;
    const write = access !== O.O_RDONLY;
    const create = (f & O.O_CREAT) !== 0;
    const exclusive = create && (f & O.O_EXCL) !== 0;
    const options = {
      read: access !== O.O_WRONLY,
      write: write && (f & O.O_APPEND) === 0,
      append: (f & O.O_APPEND) !== 0,
      create: create && !exclusive,
      createNew: exclusive,
      truncate: (f & O.O_TRUNC) !== 0,
      mode,
    };
    const open = () => call("open", path, () => d.openSync(path, options));
    // O_EXCL never follows a link (it fails with EEXIST), as on Node.
    if ((f & O.O_NOFOLLOW) === 0 || exclusive) return add({ file: open() });
    const seen = lstatOrNull(path);
    if (seen === null && !create) {
      throw errnoError("ENOENT", "no such file or directory", "open", path, "2");
    }
    if (seen?.isSymlink) {
      throw errnoError("ELOOP", "too many symbolic links encountered", "open", path);
    }
    if (seen && !seen.isFile && !seen.isDirectory) {
      // What open(O_NONBLOCK) does: a FIFO without a reader or a socket refuses a writer, a
      // socket any open; other special files open, and fstat tells what they are.
      if (seen.isSocket || (write && seen.isFifo)) {
        throw errnoError("ENXIO", "no such device or address", "open", path, "6");
      }
      return add({ special: seen, path });
    }
    const opened = open();
    const now = (() => {
      try {
        return opened.statSync();
      } catch (error) {
        opened.close();
        throw nodeError(error, "fstat", path);
      }
    })();
    const same = seen
      ? seen.ino === now.ino && seen.dev === now.dev
      : lstatOrNull(path)?.ino === now.ino; // created: the path must still be that file
    if (!same) {
      opened.close();
      throw errnoError("ELOOP", "too many symbolic links encountered", "open", path);
    }
    return add({ file: opened });
  }

  return {
    constants: O,
    openSync,
    closeSync(fd) {
      const h = handle(fd, "close");
      handles.delete(fd);
      if ("file" in h) h.file.close();
    },
    fstatSync(fd) {
      const h = handle(fd, "fstat");
      return toStats("file" in h ? h.file.statSync() : h.special);
    },
    fsyncSync: (fd) => file(fd, "fsync").syncSync(),
    ftruncateSync: (fd, len) => file(fd, "ftruncate").truncateSync(len),
    readSync(fd, buffer, offset, length, position) {
      const h = handle(fd, "read");
      // A special file was never opened: what reading it would give without blocking.
      if (!("file" in h)) {
        throw position === null
          ? errnoError("EAGAIN", "resource temporarily unavailable", "read", h.path, "11")
          : errnoError("ESPIPE", "illegal seek", "read", h.path, "29");
      }
      const f = h.file;
      if (position !== null) f.seekSync(position, 0);
      return f.readSync(buffer.subarray(offset, offset + length)) ?? 0;
    },
    writeSync: (fd, buffer, offset, length) =>
      file(fd, "write").writeSync(buffer.subarray(offset, offset + length)),
    lstatSync: (path) => toStats(call("lstat", path, () => d.lstatSync(path))),
    statSync: (path) => toStats(call("stat", path, () => d.statSync(path))),
    existsSync(path) {
      try {
        d.statSync(path);
        return true;
      } catch {
        return false;
      }
    },
    mkdirSync(path, options) {
      // Like node:fs: a recursive mkdir returns the first folder it made.
      let first: string | undefined;
      for (let p = path; options.recursive && lstatOrNull(p) === null;) {
        first = p;
        const parent = p.replace(/[\\/]+[^\\/]*[\\/]*$/, "");
        if (parent === "" || parent === p) break;
        p = parent;
      }
      call("mkdir", path, () => d.mkdirSync(path, options));
      return first;
    },
    readdirSync: (path) => call("scandir", path, () => [...d.readDirSync(path)].map((e) => e.name)),
    readFileSync: (path) => call("open", path, () => d.readFileSync(path)),
    renameSync: (from, to) => call("rename", from, () => d.renameSync(from, to), to),
    linkSync: (existing, path) => call("link", existing, () => d.linkSync(existing, path), path),
    unlinkSync(path) {
      // Deno's remove() would take an empty folder too; unlink() never does.
      if (call("unlink", path, () => d.lstatSync(path)).isDirectory) {
        throw errnoError("EISDIR", "illegal operation on a directory", "unlink", path, "21");
      }
      call("unlink", path, () => d.removeSync(path));
    },
    rmdirSync(path) {
      if (!call("rmdir", path, () => d.lstatSync(path)).isDirectory) {
        throw errnoError("ENOTDIR", "not a directory", "rmdir", path, "20");
      }
      call("rmdir", path, () => d.removeSync(path));
    },
    rmSync(path, options) {
      try {
        d.removeSync(path, { recursive: options.recursive === true });
      } catch (error) {
        if (options.force && (error as { code?: string })?.code === "ENOENT") return;
        throw nodeError(error, "rm", path);
      }
    },
  };
}

/** node:fs on Node, Deno's file API with node:fs's shape on Deno. */
export const fs: FileSystem = deno?.version !== undefined
  ? denoFileSystem(deno)
  : await import("node:fs") as unknown as FileSystem;
