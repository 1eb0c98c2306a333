// The file and path seams behave as node:fs and node:path do: on Deno they
// are Deno's own API (start-up cost), so each case runs the same call
// through the seam and through node:fs and compares; on Node both are node:fs.
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as nodePath from "node:path";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fs } from "../backends/_fs_platform.ts";
import { basenamePath, dirnamePath, joinPath } from "../backends/_sys_platform.ts";
import { removeDir, tempDir } from "./_runtime.ts";

const { constants: c } = fs;
const NOFOLLOW_READ = c.O_RDONLY! | c.O_NOFOLLOW! | c.O_NONBLOCK!;
const NOFOLLOW_WRITE = c.O_WRONLY! | c.O_NOFOLLOW! | c.O_NONBLOCK!;
const NOFOLLOW_APPEND = c.O_WRONLY! | c.O_APPEND! | c.O_CREAT! | c.O_NOFOLLOW! | c.O_NONBLOCK!;
const N = nodeFs.constants;
const NODE_FLAGS = new Map([
  [NOFOLLOW_READ, N.O_RDONLY | N.O_NOFOLLOW | N.O_NONBLOCK],
  [NOFOLLOW_WRITE, N.O_WRONLY | N.O_NOFOLLOW | N.O_NONBLOCK],
  [NOFOLLOW_APPEND, N.O_WRONLY | N.O_APPEND | N.O_CREAT | N.O_NOFOLLOW | N.O_NONBLOCK],
]);

/** What an open gives: the error code, or the kind fstat sees and what a read does. */
function outcome(
  open: () => number,
  fstat: (fd: number) => { isFile(): boolean; isFIFO(): boolean; isDirectory(): boolean },
  read: (fd: number) => number,
  close: (fd: number) => void,
): string {
  let fd: number;
  try {
    fd = open();
  } catch (error) {
    return `open: ${(error as { code?: string }).code}`;
  }
  try {
    const st = fstat(fd);
    const kind = st.isFile() ? "file" : st.isFIFO() ? "fifo" : st.isDirectory() ? "dir" : "other";
    let got: string;
    try {
      got = `read ${read(fd)}`;
    } catch (error) {
      got = `read: ${(error as { code?: string }).code}`;
    }
    return `${kind}, ${got}`;
  } finally {
    close(fd);
  }
}

const posix = process.platform !== "win32";

/** A folder with a file, a link to it, a dangling link, a folder and (where mkfifo exists) a FIFO. */
function fixture(): { dir: string; names: string[] } {
  const dir = tempDir();
  nodeFs.writeFileSync(`${dir}/file`, "abc");
  nodeFs.symlinkSync(`${dir}/file`, `${dir}/link`);
  nodeFs.symlinkSync(`${dir}/nowhere`, `${dir}/dangling`);
  nodeFs.mkdirSync(`${dir}/folder`);
  const fifo = spawnSync("mkfifo", [`${dir}/fifo`]).status === 0;
  return {
    dir,
    names: ["file", "link", "dangling", "folder", "missing", ...(fifo ? ["fifo"] : [])],
  };
}

test(
  "fs seam: opens with O_NOFOLLOW as node:fs does (file, link, dangling link, FIFO, folder, none)",
  {
    skip: !posix,
  },
  () => {
    const buf = new Uint8Array(8);
    for (const flags of [NOFOLLOW_READ, NOFOLLOW_WRITE, NOFOLLOW_APPEND]) {
      const a = fixture();
      const b = fixture();
      try {
        for (const name of a.names) {
          const ours = outcome(
            () => fs.openSync(`${a.dir}/${name}`, flags, 0o600),
            fs.fstatSync,
            (fd) => fs.readSync(fd, buf, 0, 8, 0),
            fs.closeSync,
          );
          const theirs = outcome(
            () => nodeFs.openSync(`${b.dir}/${name}`, NODE_FLAGS.get(flags)!, 0o600),
            nodeFs.fstatSync,
            (fd) => nodeFs.readSync(fd, buf, 0, 8, 0),
            nodeFs.closeSync,
          );
          assert.equal(ours, theirs, `${name}, flags ${flags}`);
        }
        assert.deepEqual(
          nodeFs.readdirSync(a.dir).sort(),
          nodeFs.readdirSync(b.dir).sort(),
          "the same files exist after",
        );
        assert.equal(
          nodeFs.readlinkSync(`${a.dir}/link`),
          `${a.dir}/file`,
          "the link is untouched",
        );
        assert.equal(
          nodeFs.existsSync(`${a.dir}/nowhere`),
          false,
          "nothing created through a link",
        );
      } finally {
        removeDir(a.dir);
        removeDir(b.dir);
      }
    }
  },
);

test("fs seam: errors carry node:fs's code and message; wx refuses a link; unlink refuses a folder", () => {
  const dir = tempDir();
  try {
    const missing = `${dir}/missing`;
    const fail = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        const e = error as { code?: string; message: string };
        return `${e.code} ${e.message}`;
      }
      return "no error";
    };
    assert.equal(fail(() => fs.openSync(missing, "r")), fail(() => nodeFs.openSync(missing, "r")));
    assert.equal(fail(() => fs.lstatSync(missing)), fail(() => nodeFs.lstatSync(missing)));
    assert.equal(
      fail(() => fs.renameSync(missing, `${dir}/x`)),
      fail(() => nodeFs.renameSync(missing, `${dir}/x`)),
    );
    if (posix) {
      nodeFs.symlinkSync(`${dir}/target`, `${dir}/link`);
      assert.match(fail(() => fs.openSync(`${dir}/link`, "wx", 0o600)), /^EEXIST /);
      assert.equal(nodeFs.existsSync(`${dir}/target`), false, "nothing created through the link");
    }
    nodeFs.mkdirSync(`${dir}/folder`);
    assert.notEqual(fail(() => fs.unlinkSync(`${dir}/folder`)), "no error");
    assert.equal(nodeFs.statSync(`${dir}/folder`).isDirectory(), true, "the folder is still there");
    assert.equal(fs.existsSync(`${dir}/folder`), true);
    assert.equal(fs.existsSync(missing), false);
  } finally {
    removeDir(dir);
  }
});

test("fs seam: mkdirSync returns the first folder made, files are created with their mode", () => {
  const dir = tempDir();
  try {
    assert.equal(
      fs.mkdirSync(`${dir}/a/b/c`, { recursive: true, mode: 0o700 }),
      nodeFs.mkdirSync(`${dir}/x/b/c`, { recursive: true, mode: 0o700 })?.replace("/x", "/a"),
    );
    assert.equal(fs.mkdirSync(`${dir}/a/b`, { recursive: true, mode: 0o700 }), undefined);
    const fd = fs.openSync(`${dir}/a/f`, "wx", 0o600);
    const bytes = new TextEncoder().encode("hello");
    assert.equal(fs.writeSync(fd, bytes, 1, 4), 4);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    assert.equal(nodeFs.readFileSync(`${dir}/a/f`, "utf8"), "ello");
    if (posix) assert.equal(nodeFs.statSync(`${dir}/a/f`).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(`${dir}/a`).sort(), ["b", "f"]);
    const st = fs.lstatSync(`${dir}/a/f`);
    const nst = nodeFs.lstatSync(`${dir}/a/f`);
    assert.deepEqual(
      [st.ino, st.size, st.mode, st.uid, Math.floor(st.mtimeMs)],
      [nst.ino, nst.size, nst.mode, nst.uid, Math.floor(nst.mtimeMs)],
    );
  } finally {
    removeDir(dir);
  }
});

test("path seam: join, dirname and basename agree with node:path", () => {
  const atoms = ["", "/", "//", ".", "..", "a", "b.json", "a/", "/a", "..a", ".a", "a."];
  let seed = 7;
  const pick = () => atoms[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % atoms.length]!;
  for (let i = 0; i < 5000; i++) {
    const parts = Array.from({ length: 1 + (i % 4) }, pick);
    const s = parts.join("");
    assert.equal(joinPath(...parts), nodePath.join(...parts), `join ${JSON.stringify(parts)}`);
    assert.equal(dirnamePath(s), nodePath.dirname(s), `dirname ${JSON.stringify(s)}`);
    assert.equal(basenamePath(s), nodePath.basename(s), `basename ${JSON.stringify(s)}`);
  }
});
