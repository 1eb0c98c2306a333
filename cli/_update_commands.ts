// The CLI's safe updates: read-modify-write commands that stay correct with
// many processes at once (the library's update() underneath, retried on
// conflict), and leases for handing tasks to parallel workers.
import { validateKey } from "../core/_validate.ts";
import { type Command, type Ctx, openState, print, required, safe, safeJson } from "./_context.ts";
import { readValue, ttl, TTL_OPTION, VALUE_OPTIONS } from "./_input.ts";
import { UsageError } from "./_usage.ts";

/** Prints a command's new value: JSON (terminal-safe), or `{key, value}` with --json. */
function printNew(ctx: Ctx, key: string, value: unknown): void {
  if (ctx.json) return print(ctx, "", { key, value });
  ctx.io.out(safeJson(JSON.stringify(value, null, 2)));
}

/** The key, checked before anything is opened. */
function keyOf(ctx: Ctx): string {
  const key = required(ctx.values, "key");
  validateKey(key);
  return key;
}

/** incr, append, merge, claim and release. */
export const UPDATE_COMMANDS: Record<string, Command> = {
  incr: {
    summary: "Add to a number atomically (a missing key counts as 0); print the new value",
    usage: "incr --key done [--by 5]",
    options: {
      key: { type: "string", help: "the key" },
      by: { type: "string", help: "the amount to add (default 1; may be negative)" },
      ...TTL_OPTION,
    },
    async run(ctx) {
      const key = keyOf(ctx);
      const text = ctx.values.by;
      const by = typeof text === "string" ? Number(text) : 1;
      if (typeof text === "string" && (text.trim() === "" || !Number.isFinite(by))) {
        throw new UsageError(`--by must be a number, got ${JSON.stringify(text)}`);
      }
      const options = ttl(ctx.values);
      await using state = await openState(ctx.settings);
      printNew(ctx, key, await state.increment(key, by, options));
    },
  },
  append: {
    summary: "Append a value to a list atomically (a missing key counts as []); print the list",
    usage: "append --key log --value '\"built\"'",
    options: { key: { type: "string", help: "the key" }, ...VALUE_OPTIONS, ...TTL_OPTION },
    async run(ctx) {
      const key = keyOf(ctx);
      const value = await readValue(ctx);
      const options = ttl(ctx.values);
      await using state = await openState(ctx.settings);
      printNew(ctx, key, await state.append(key, value, options));
    },
  },
  merge: {
    summary: "Merge fields into an object atomically (shallow; missing = {}); print the object",
    usage: 'merge --key build --value \'{"status": "done"}\'',
    options: {
      key: { type: "string", help: "the key" },
      value: { type: "string", help: 'a JSON object of fields to set; "-" reads stdin' },
      "value-file": { type: "string", help: 'read the object from a file; "-" is stdin' },
      ...TTL_OPTION,
    },
    async run(ctx) {
      const key = keyOf(ctx);
      const patch = await readValue(ctx);
      if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
        throw new UsageError(`merge takes a JSON object in --value, e.g. '{"status": "done"}'`);
      }
      const options = ttl(ctx.values);
      await using state = await openState(ctx.settings);
      printNew(ctx, key, await state.merge(key, patch as Record<string, unknown>, options));
    },
  },
  claim: {
    summary: "Take a lease on a key for an owner (exit 4 if another owner holds it)",
    usage: "claim --key task:7 --owner worker-1 [--ttl-ms 600000]",
    options: {
      key: { type: "string", help: "the lease's key; its value becomes the owner" },
      owner: { type: "string", help: "who takes it; claiming again renews it" },
      "ttl-ms": { type: "string", help: "the lease ends by itself after this many milliseconds" },
    },
    async run(ctx) {
      const key = keyOf(ctx);
      const owner = required(ctx.values, "owner");
      const options = ttl(ctx.values);
      await using state = await openState(ctx.settings);
      const lease = await state.claim(key, owner, options);
      print(ctx, `Claimed ${safe(key)} for ${safe(owner)}`, lease);
    },
  },
  release: {
    summary: "End an owner's lease (exit 4 if another owner holds it)",
    usage: "release --key task:7 --owner worker-1",
    options: {
      key: { type: "string", help: "the lease's key" },
      owner: { type: "string", help: "who holds it" },
    },
    async run(ctx) {
      const key = keyOf(ctx);
      const owner = required(ctx.values, "owner");
      await using state = await openState(ctx.settings);
      const released = await state.release(key, owner);
      print(
        ctx,
        released ? `Released ${safe(key)}` : `${safe(key)} was not held (it expired)`,
        { key, released },
      );
    },
  },
};
