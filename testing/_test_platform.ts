// The runtime seam of the backend suite: cases register with Deno.test on
// Deno (so `deno test` reports them natively) and with node:test on Node.
import { test as nodeTest } from "node:test";

/** Registers one test: its name, whether to skip it, and its body. */
export type Register = (name: string, skip: boolean, fn: () => Promise<void>) => void;

const deno = (globalThis as {
  Deno?: {
    test(options: {
      name: string;
      ignore: boolean;
      fn: () => Promise<void>;
      sanitizeOps: boolean;
      sanitizeResources: boolean;
    }): void;
  };
}).Deno;

/** The runtime's test function. */
export const register: Register = deno
  // Backends keep connections and timers (Redis, KV) across a case's end: no sanitizers.
  ? (name, skip, fn) =>
    deno.test({ name, ignore: skip, fn, sanitizeOps: false, sanitizeResources: false })
  : (name, skip, fn) => void nodeTest(name, { skip }, fn);
