// Where the JSON backend's namespaces and checkpoints are on disk: namespace
// folders by their encoded names (moving folders of the layout before the
// encoding), checkpoint files found by name and checked to hold that name,
// and the namespace size limit.
import { dirnamePath as dirname, joinPath as join } from "./_sys_platform.ts";
import { fs } from "./_fs_platform.ts";
import { compareKeys } from "../core/_keys.ts";
import { StateDamagedError, ValidationError } from "../errors.ts";
import type { CheckpointInfo, CommitOp } from "../types.ts";
import {
  atomicWrite,
  checkFolder,
  code,
  fileExists,
  fsyncDir,
  listDir,
  lstatOrNull,
  openAppend,
  removeFile,
  removeQuietly,
  tempPathFor,
  writeAll,
  writeNewFile,
} from "./_files.ts";
import { entryCost, FILES, type JournalRecord, readCheckpointInfo } from "./_json_format.ts";
import { legacyCheckpointFile, namespaceFolder, namespaceOfFolder } from "./_json_names.ts";

const { closeSync, fsyncSync, readdirSync, renameSync } = fs;

/** The checked folder of namespace `ns` (valid) in the state folder `root`. */
export function namespacePath(root: string, ns: string): string {
  const folder = namespaceFolder(ns);
  const path = join(root, folder);
  if (folder !== ns && lstatOrNull(path) === null) upgradeFolder(root, ns, path);
  checkFolder(path);
  return path;
}

/** Namespaces whose folders in `root` hold a snapshot, in key order; links are skipped. */
export function namespaceFolders(root: string): string[] {
  const names = new Set<string>();
  for (const folder of readFolder(root)) {
    const ns = namespaceOfFolder(folder);
    // Only real folders: a link here is never followed (using it reports it as damage).
    if (ns === null || !lstatOrNull(join(root, folder))?.isDirectory()) continue;
    if (lstatOrNull(join(root, folder, FILES.snapshot)) !== null) names.add(ns);
  }
  return [...names].sort(compareKeys);
}

/** The headers of the checkpoint files in `dir`, one per name. */
export function checkpointInfos(dir: string): CheckpointInfo[] {
  const byName = new Map<string, CheckpointInfo>();
  for (const f of listDir(dir)) {
    if (!f.endsWith(".jsonl") || f.startsWith(".")) continue;
    const info = readCheckpointInfo(join(dir, f));
    // Both files of one name exist only after a crash between writing the
    // new one and removing the old one: the new one counts.
    if (byName.has(info.name) && f === legacyCheckpointFile(info.name)) continue;
    byName.set(info.name, info);
  }
  return [...byName.values()];
}

/**
 * The checkpoint file that holds checkpoint `name`: `file` (its name now) or
 * the file of the layout before, whichever exists and says inside that it
 * holds `name`; null when neither does.
 */
export function findCheckpoint(dir: string, file: string, name: string): string | null {
  for (const f of new Set([file, legacyCheckpointFile(name)])) {
    const path = join(dir, f);
    if (fileExists(path) && readCheckpointInfo(path).name === name) return path;
  }
  return null;
}

/** Writes a checkpoint as `file`, and removes the old-layout file it replaces. */
export function writeCheckpoint(
  dir: string,
  file: string,
  found: string | null,
  text: string | (string | Uint8Array)[],
): void {
  const path = join(dir, file);
  if (fileExists(path) && path !== found) {
    // With SHA-256 this takes a planted or misnamed file, never a collision.
    throw new StateDamagedError(
      `Checkpoint file ${path} holds another checkpoint (${
        JSON.stringify(readCheckpointInfo(path).name)
      }): move it aside, or run recover()`,
    );
  }
  if (typeof text === "string") atomicWrite(path, text);
  else writePartsAtomically(path, text);
  if (found !== null && found !== path) removeFile(found);
}

/** `atomicWrite` of a file given in parts: a new temp file (fsynced), renamed, and the folder fsynced. */
function writePartsAtomically(path: string, parts: (string | Uint8Array)[]): void {
  const temp = tempPathFor(path);
  try {
    writeNewFile(temp, parts[0] ?? "", false);
    const { fd } = openAppend(temp);
    try {
      for (const part of parts.slice(1)) writeAll(fd, part);
      fsyncSync(fd); // the whole file, the first part too
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  fsyncDir(dirname(path));
}

/** Names in the state folder, which may itself be a link (the user's choice). */
function readFolder(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (code(error) === "ENOENT") return [];
    throw error;
  }
}

/**
 * Moves the folder of a namespace whose name encodes differently (capitals,
 * device names, a trailing dot) from where the release before the encoding
 * kept it (the name itself) to its encoded name. The name must be listed
 * exactly: on a case-insensitive file system "plan" would open "Plan".
 */
function upgradeFolder(root: string, ns: string, path: string): void {
  if (!readFolder(root).includes(ns) || !lstatOrNull(join(root, ns))?.isDirectory()) return;
  try {
    renameSync(join(root, ns), path);
    fsyncDir(root);
  } catch (error) {
    // Another process moved it first.
    if (!["ENOENT", "EEXIST", "ENOTEMPTY"].includes(code(error) ?? "")) throw error;
  }
}

export function tooBig(ns: string, bytes: number, max: number): ValidationError {
  return new ValidationError(
    `Namespace ${JSON.stringify(ns)} would hold ${bytes} bytes; the JSON backend's limit is ` +
      `${max}: delete keys, split the namespace, or use the SQLite backend`,
  );
}

/** The namespace's size (see entryCost) after `op`. */
export function bytesAfter(
  entries: Map<string, JournalRecord> & { bytes: number },
  op: CommitOp,
): number {
  let bytes = entries.bytes;
  // Keys whose old cost is already taken off (no set needed for a plain save).
  const gone = op.deletes.length ? new Set<string>() : null;
  for (const key of op.deletes) {
    const r = gone!.has(key) ? undefined : entries.get(key);
    gone!.add(key);
    if (r) bytes -= entryCost(key, r);
  }
  for (const s of op.sets) {
    const r = gone?.has(s.key) ? undefined : entries.get(s.key);
    gone?.add(s.key);
    if (r) bytes -= entryCost(s.key, r);
    bytes += entryCost(s.key, { value: s.value, version: op.version, expiresAt: null });
  }
  return bytes;
}
