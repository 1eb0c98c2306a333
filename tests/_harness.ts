// What a conformance run needs from a backend's test file.
import type { ManagerOptions, OpenOptions, StateManager } from "../mod.ts";

/** A store under test: each `open()` opens a manager on the same data. */
export interface Harness {
  /** Opens a manager on this harness's store. */
  open(options?: ManagerOptions): Promise<StateManager>;
  /** Plain options a child process can pass to StateManager.open() to reach the same store. */
  childOptions?: OpenOptions;
  /** Removes the store. */
  cleanup(): Promise<void>;
}
