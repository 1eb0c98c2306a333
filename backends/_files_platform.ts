// Runtime seam for file identity: Deno's own stat is about 3x cheaper than its
// node:fs one, and the JSON backend stats its journal on every read. Node
// (and a Deno without the global) uses node:fs.
import { statSync } from "node:fs";

/** What identifies a file's content for change detection: its inode and size. */
export interface FileIdentity {
  ino: number;
  size: number;
}

const denoStat = (globalThis as {
  Deno?: { statSync?(path: string): { ino: number | null; size: number } };
}).Deno?.statSync;

/** The inode and size of `path`, or null when it does not exist. */
export function fileIdentity(path: string): FileIdentity | null {
  try {
    if (denoStat) {
      const st = denoStat(path);
      if (st.ino !== null) return { ino: st.ino, size: st.size };
    }
    const st = statSync(path);
    return { ino: st.ino, size: st.size };
  } catch (error) {
    if ((error as { code?: string })?.code === "ENOENT") return null;
    throw error;
  }
}
