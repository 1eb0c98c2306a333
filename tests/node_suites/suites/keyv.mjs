// @keyv/test-suite, unmodified, against KeyvManagingState on one backend:
// its API, value and namespace tests (keyvTestSuite) and its iterator tests.
import * as test from "vitest";
import Keyv from "keyv";
import keyvTestSuite, { keyvIteratorTests } from "@keyv/test-suite";
import { KeyvManagingState } from "@adw/managing-state/keyv";
import { openBackend } from "./_backends.mjs";

export function keyvSuite(name) {
  test.describe(`KeyvManagingState on ${name}`, () => {
    let opened;
    test.beforeAll(() => {
      opened = openBackend(name);
    });
    test.afterAll(() => opened.close());
    // A new store per call, as Keyv's own adapters are tested: each Keyv sets its namespace on it.
    const store = () => new KeyvManagingState({ backend: opened.backend });
    keyvTestSuite(test, Keyv, store);
    keyvIteratorTests(test, Keyv, store);
  });
}
