// Two states of a 5,000-key namespace for the Deno KV atomicity tests, and a
// reader that tells which one it sees (or a mix, which must never happen).
import type { StateManager } from "../mod.ts";

/** The keys of both states. */
export const KEYS: string[] = Array.from(
  { length: 5000 },
  (_, i) => `k${String(i).padStart(4, "0")}`,
);
/** Keys only state B has. */
export const EXTRA: string[] = Array.from({ length: 100 }, (_, i) => `x${i}`);

/** Writes state `name` in one atomic commit: every key holds `name`; B also has the extra keys. */
export async function write(state: StateManager, name: "A" | "B"): Promise<void> {
  const op = state.atomic();
  for (const k of KEYS) op.set(k, name);
  for (const k of EXTRA) {
    if (name === "B") op.set(k, "B");
    else op.delete(k);
  }
  await op.commit();
}

/** Reads the namespace twice (values, then the key list) and names the state seen. */
export async function classify(state: StateManager): Promise<"A" | "B" | "mix"> {
  const values = new Set(Object.values(await state.loadMany(KEYS)));
  const count = (await state.listKeys()).keys.length;
  if (values.size !== 1) return "mix";
  const [only] = values;
  const keyState = count === KEYS.length ? "A" : count === KEYS.length + EXTRA.length ? "B" : "mix";
  // The two reads may straddle a restore; each must be whole on its own.
  return keyState === "mix" ? "mix" : only === "A" || only === "B" ? only : "mix";
}
