// Ids that sort by time and stay unique across processes: a millisecond
// timestamp, a per-process counter, and random bits.
let lastMs = 0;
let counter = 0;
// Versions: a counter that never resets in this process plus 64 random bits
// drawn once per process, so a version is never reused even if the clock
// steps back, at no per-commit cost for randomness.
let versions = 0;
let processTag: string | undefined;

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += b.toString(16).padStart(2, "0");
  return out;
}

function tick(now: number): number {
  if (now === lastMs) return ++counter;
  lastMs = now;
  counter = 0;
  return 0;
}

/** A new version id: unique per commit, never reused. */
export function newVersion(now = Date.now()): string {
  processTag ??= randomHex(8);
  return `${now.toString(36)}.${(versions++).toString(36)}.${processTag}`;
}

/** An automatic checkpoint name such as `auto-20261123T203302.123Z-0000-9f3a1c2b`. */
export function autoCheckpointName(now = Date.now()): string {
  const stamp = new Date(now).toISOString().replaceAll("-", "").replaceAll(
    ":",
    "",
  );
  const seq = tick(now).toString().padStart(4, "0");
  return `auto-${stamp}-${seq}-${randomHex(4)}`;
}
