import { langgraphSuite } from "./suites/langgraph.mjs";

langgraphSuite("postgres");
