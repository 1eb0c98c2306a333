import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { graphResumeSuite } from "./suites/graph_resume.mjs";

const dir = mkdtempSync(join(tmpdir(), "ms-graph-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
graphResumeSuite("sqlite", () => ({ backend: "sqlite", path: join(dir, "state.db") }));
