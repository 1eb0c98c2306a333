// A "peer": another manager on the same store, either in this process or in
// a child process, driven by the same commands, so the coherence and watch
// cases run unchanged against both.
import { fileURLToPath } from "node:url";
import type { JsonValue, OpenOptions, StateManager } from "../mod.ts";
import { startChild } from "./_runtime.ts";

/** One command a peer runs. */
export type PeerCommand =
  | { op: "save"; key: string; value: JsonValue }
  | { op: "delete"; key: string }
  | { op: "load"; key: string }
  | { op: "checkpoint"; name: string }
  | { op: "restore"; name: string }
  | { op: "clear" };

/** Another manager on the same store; every call returns once the command completed. */
export interface Peer {
  run(command: PeerCommand): Promise<unknown>;
  close(): Promise<void>;
}

/** What `load` answers for a missing key. */
export const MISSING = { missing: true };

/** Runs one command on a manager. */
export async function runPeerCommand(s: StateManager, c: PeerCommand): Promise<unknown> {
  switch (c.op) {
    case "save":
      await s.save(c.key, c.value);
      return null;
    case "delete":
      await s.delete(c.key);
      return null;
    case "load":
      return await s.load(c.key, MISSING);
    case "checkpoint":
      return await s.checkpoint(c.name, { overwrite: true });
    case "restore":
      await s.restoreCheckpoint(c.name);
      return null;
    case "clear":
      await s.clear();
      return null;
  }
}

/** A peer in this process: a second manager. */
export function localPeer(s: StateManager): Peer {
  return { run: (c) => runPeerCommand(s, c), close: () => s.close() };
}

const childScript = fileURLToPath(new URL("./_peer_child.ts", import.meta.url));

/** A peer in a child process, opened with `options`. */
export function childPeer(options: OpenOptions): Peer {
  const child = startChild(childScript, [JSON.stringify(options)]);
  return {
    run: (c) => child.send(c),
    async close() {
      const result = await child.close();
      if (result.code !== 0) throw new Error(`peer exited with ${result.code}: ${result.stderr}`);
    },
  };
}
