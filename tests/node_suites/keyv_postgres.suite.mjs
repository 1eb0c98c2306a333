import { keyvSuite } from "./suites/keyv.mjs";

keyvSuite("postgres");
