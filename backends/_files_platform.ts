// Runtime seam for file identity: Deno's own lstat is about 3x cheaper than
// its node:fs one, and the JSON backend checks its journal on every read.
// Node (and a Deno without the global) uses node:fs. A link is never
// followed: it is identified as itself, and opening it then fails as damage.
import { fs } from "./_fs_platform.ts";

const { lstatSync } = fs;

/** What identifies a file's content for change detection: its inode and size. */
export interface FileIdentity {
  ino: number;
  size: number;
}

const denoLstat = (globalThis as {
  Deno?: { lstatSync?(path: string): { ino: number | null; size: number } };
}).Deno?.lstatSync;

/** The inode and size of `path` (not following a link), or null when it does not exist. */
export function fileIdentity(path: string): FileIdentity | null {
  try {
    if (denoLstat) {
      const st = denoLstat(path);
      if (st.ino !== null) return { ino: st.ino, size: st.size };
    }
    const st = lstatSync(path);
    return { ino: st.ino, size: st.size };
  } catch (error) {
    if ((error as { code?: string })?.code === "ENOENT") return null;
    throw error;
  }
}
