import { graphResumeSuite } from "./suites/graph_resume.mjs";

const url = process.env.REDIS_URL;
// The runner always starts a server: no server is a failure, never a skip.
if (!url) throw new Error("REDIS_URL is not set: run these suites through deno task test");
graphResumeSuite("redis", () => ({ backend: "redis", url, prefix: `graph-${process.pid}` }));
