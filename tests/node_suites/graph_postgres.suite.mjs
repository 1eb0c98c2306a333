import { graphResumeSuite } from "./suites/graph_resume.mjs";

const url = process.env.DATABASE_URL;
// The runner always starts a server: no server is a failure, never a skip.
if (!url) throw new Error("DATABASE_URL is not set: run these suites through deno task test");
graphResumeSuite("postgres", () => ({ backend: "postgres", url, schema: `graph_${process.pid}` }));
