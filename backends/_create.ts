// Creating a backend's database file, in a way a failed open can take back:
// an open that fails leaves no empty file and no folders behind.
import { dirnamePath as dirname } from "./_sys_platform.ts";
import { fs } from "./_fs_platform.ts";

const { closeSync, mkdirSync, openSync, rmdirSync, rmSync } = fs;

/**
 * Creates `path` (mode 0600) and its missing folders (0700) if absent, and
 * returns an undo that removes exactly what this call created (the file, any
 * `-wal`/`-shm`/`-journal` beside it, and the folders), for a failed open.
 */
export function createPrivateFile(path: string): () => void {
  const made = mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let created = false;
  const undo = () => {
    if (created) {
      for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
    }
    if (made === undefined) return;
    // Folders this call made, deepest first, up to the first one it made.
    for (let dir = dirname(path); dir.length >= made.length; dir = dirname(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        return; // not empty (someone else's file): leave it
      }
      if (dir === made) return;
    }
  };
  try {
    closeSync(openSync(path, "wx", 0o600));
    created = true;
  } catch (error) {
    if ((error as { code?: string })?.code !== "EEXIST") {
      undo();
      throw error;
    }
  }
  return undo;
}
