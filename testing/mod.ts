/**
 * The backend conformance suite, for anyone who writes a backend: it runs
 * against the {@linkcode Backend} interface itself (and through a manager
 * where the contract is about retries), so a backend that passes behaves like
 * the built-in ones.
 *
 * @example Run the suite against your backend
 * ```ts ignore
 * import { testBackend } from "@adw/managing-state/testing";
 * import { MemoryBackend } from "@adw/managing-state/memory";
 *
 * testBackend("memory", () => Promise.resolve(new MemoryBackend()));
 * ```
 *
 * @module
 */
import type { Backend } from "../types.ts";

export type * from "../types.ts";
import { requestCases } from "./_cases_requests.ts";
import { versionCases } from "./_cases_versions.ts";
import { lineageCases } from "./_cases_lineage.ts";
import { closeCases } from "./_cases_close.ts";
import { basicCases } from "./_cases_basics.ts";
import { register } from "./_test_platform.ts";

/** Options of {@linkcode testBackend}. */
export interface TestBackendOptions {
  /** Skip every case (e.g. when the server the backend needs is not there). */
  skip?: boolean;
}

/**
 * Registers the backend suite with the runtime's test runner. Each case gets
 * a fresh, empty backend from `open` and closes it afterwards; test names
 * read `"<name>: <behaviour>"`.
 *
 * @example
 * ```ts ignore
 * import { testBackend } from "@adw/managing-state/testing";
 * import { SqliteBackend } from "@adw/managing-state/sqlite";
 *
 * testBackend("sqlite", () => Promise.resolve(new SqliteBackend({ path: ":memory:" })));
 * ```
 */
export function testBackend(
  name: string,
  open: () => Promise<Backend>,
  options: TestBackendOptions = {},
): void {
  const it = (behaviour: string, fn: (backend: Backend) => Promise<void>) =>
    register(`${name}: ${behaviour}`, options.skip === true, async () => {
      const backend = await open();
      try {
        await fn(backend);
      } finally {
        await backend.close();
      }
    });
  basicCases(it);
  requestCases(it);
  versionCases(it);
  lineageCases(it);
  closeCases(it);
}
