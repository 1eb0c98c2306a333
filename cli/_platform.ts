// The CLI's runtime seam: what differs between Deno and Node.

/**
 * Whether this process may ask if another process is alive (`process.kill(pid, 0)`).
 * Deno allows that only with --allow-run; Node always does.
 */
export function canCheckProcesses(): boolean {
  const deno = (globalThis as {
    Deno?: { permissions?: { querySync?(d: { name: "run" }): { state: string } } };
  }).Deno;
  const state = deno?.permissions?.querySync?.({ name: "run" }).state;
  return state === undefined || state === "granted";
}
