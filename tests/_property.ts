// Property-based tests with fast-check: generated input at scale. Every
// property file runs `checkProperty()`, which runs PROPERTY_RUNS cases
// (10,000 by default) from a fresh random seed, tallies what each case came to,
// and prints one line of counts; a failure shows fast-check's shrunk
// counterexample and the seed, and PROPERTY_SEED=<seed> replays that run.
//
// A new property (names, a new input format) is a `tests/property_<what>_test.ts`
// that builds its arbitraries from `fc` and calls `checkProperty()`.
import process from "node:process";
import fc from "fast-check"; // pinned in deno.json: npm:fast-check@4.11.0

export { fc };

/** Cases per property. */
export const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000);

/**
 * Checks that `fn` holds for RUNS values of `arb`. `fn` returns what the case
 * came to ("round trip", "refused", ...) and throws when the property fails.
 * Prints `property <name>: N cases (a x, b y, ...), seed S` and returns the tally.
 */
export async function checkProperty<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  fn: (value: T) => Promise<string> | string,
): Promise<Record<string, number>> {
  const seed = process.env.PROPERTY_SEED
    ? Number(process.env.PROPERTY_SEED)
    : Math.floor(Math.random() * 2 ** 31);
  const tally: Record<string, number> = {};
  let cases = 0;
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (value) => {
        const outcome = await fn(value);
        tally[outcome] = (tally[outcome] ?? 0) + 1;
        cases++;
      }),
      { numRuns: RUNS, seed },
    );
  } finally {
    const counts = Object.entries(tally).sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${n} ${k}`).join(", ");
    console.log(`property ${name}: ${cases} cases (${counts}), seed ${seed}`);
  }
  return tally;
}
