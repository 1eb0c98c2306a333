// Aggregates the rounds of `deno task bench` and prints markdown tables: one
// per backend with ratios to the raw floor, the adapters against their
// peers, then the targets of the issue.
import { adapterReport } from "./_report_adapters.ts";

/** One measured row from one round. */
export interface Row {
  runtime: "deno" | "node";
  group: string;
  impl: string;
  op: string;
  n: number;
  ops: number;
  p50us: number;
  note?: string;
}

/** A case that did not run, and why. */
export interface Skip {
  runtime: string;
  group: string;
  impl: string;
  reason: string;
}

interface Agg {
  ops: number;
  min: number;
  max: number;
  p50us: number;
  rounds: number;
  note?: string;
}

const RAW: Record<string, string> = {
  sqlite: "raw node:sqlite",
  json: "raw file",
  redis: "raw ioredis",
  kv: "raw Deno KV",
  postgres: "raw pg",
};
const OURS = "managing-state";
/** Which raw operation each operation is compared with. */
const BASE_OP: Record<string, string> = {
  "save": "save",
  "load": "load",
  "load (cached)": "load",
  "update": "save",
  "checkpoint": "copy all keys",
  "restore": "copy all keys",
};
const RUNTIMES = ["deno", "node"] as const;
/** The CLI start-up rows: `${CLI_LOAD} json`, `${CLI_LOAD} sqlite`. */
export const CLI_LOAD = "managing-state CLI load,";

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function aggregate(rows: Row[]): Map<string, Agg> {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = key(r.runtime, r.group, r.impl, r.op, r.n);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out = new Map<string, Agg>();
  for (const [k, rs] of groups) {
    const ops = rs.map((r) => r.ops);
    out.set(k, {
      ops: median(ops),
      min: Math.min(...ops),
      max: Math.max(...ops),
      p50us: median(rs.map((r) => r.p50us)),
      rounds: rs.length,
      ...(rs[0]!.note ? { note: rs[0]!.note } : {}),
    });
  }
  return out;
}

function key(runtime: string, group: string, impl: string, op: string, n: number): string {
  return JSON.stringify([runtime, group, impl, op, n]);
}

function fmtOps(a: Agg): string {
  const f = (x: number) =>
    x >= 100 ? Math.round(x).toLocaleString("en-US") : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  return a.rounds > 1 ? `${f(a.ops)} (${f(a.min)}-${f(a.max)})` : f(a.ops);
}

function fmtUs(us: number): string {
  if (us >= 100_000) return `${(us / 1000).toFixed(0)} ms`;
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  return us >= 100 ? us.toFixed(0) : us.toFixed(1);
}

function fmtRatio(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "";
  return `${x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(2)}x`;
}

/** Prints the report to stdout. */
export function printReport(
  rows: Row[],
  skips: Skip[],
  settings: { rounds: number; sizes: number[]; maxMs: number; pinned: boolean },
): void {
  const agg = aggregate(rows);
  const get = (runtime: string, group: string, impl: string, op: string, n: number) =>
    agg.get(key(runtime, group, impl, op, n));
  const present = RUNTIMES.filter((rt) => rows.some((r) => r.runtime === rt));
  const out: string[] = [];
  out.push(
    `# managing-state benchmark\n\nRounds: ${settings.rounds} (median, min-max spread of ops/s; p50 in µs, median of rounds). ` +
      `Value: ~220 bytes of JSON. Each case in a fresh process${
        settings.pinned ? ", pinned with redis-server and postgres to CPU 1" : ""
      }; timed loops bounded by ${settings.maxMs} ms or 20,000 ops. ` +
      `"x raw" = speed per operation relative to the raw floor (its p50 latency divided by ours) ` +
      `for the same operation (save, load; checkpoint and restore against copying every key), ` +
      `in the same run; p50 is steadier than ops/s when the machine stalls.\n`,
  );

  for (const group of ["sqlite", "json", "redis", "kv", "postgres"]) {
    const lines = new Set<string>();
    for (const r of rows) {
      if (r.group === group) lines.add(JSON.stringify([r.impl, r.op, r.n]));
    }
    if (lines.size === 0) continue;
    const sorted = [...lines].map((l) => JSON.parse(l) as [string, string, number]).sort((a, b) =>
      a[2] - b[2] || rank(group, a[0]) - rank(group, b[0]) || opRank(a[1]) - opRank(b[1])
    );
    out.push(`## ${group}\n`);
    const head = ["implementation", "operation", "keys"];
    for (const rt of present) head.push(`${rt} ops/s`, `${rt} p50 µs`, `${rt} x raw`);
    out.push(`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`);
    for (const [impl, op, n] of sorted) {
      const cells = [impl, op, n.toLocaleString("en-US")];
      for (const rt of present) {
        const a = get(rt, group, impl, op, n);
        if (!a) {
          cells.push("", "", "");
          continue;
        }
        const base = BASE_OP[op] ?? op;
        const raw = get(rt, group, RAW[group]!, base, n);
        const ratio = raw && impl !== RAW[group] ? raw.p50us / a.p50us : undefined;
        cells.push(fmtOps(a), fmtUs(a.p50us), fmtRatio(ratio));
      }
      out.push(`| ${cells.join(" | ")} |`);
    }
    out.push("");
  }

  const migrate = rows.filter((r) => r.group === "migrate");
  if (migrate.length) {
    out.push("## migration\n");
    const head = ["implementation", "route", "keys"];
    for (const rt of present) head.push(`${rt} seconds`, `${rt} memory`);
    out.push(`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`);
    const seen = new Set<string>();
    for (const r of migrate) {
      const id = JSON.stringify([r.impl, r.op, r.n]);
      if (seen.has(id)) continue;
      seen.add(id);
      const cells = [r.impl, r.op, r.n.toLocaleString("en-US")];
      for (const rt of present) {
        const a = get(rt, "migrate", r.impl, r.op, r.n);
        cells.push(a ? (a.p50us / 1e6).toFixed(2) : "", a?.note ?? "");
      }
      out.push(`| ${cells.join(" | ")} |`);
    }
    out.push("");
  }

  const cli = rows.filter((r) => r.group === "cli" && r.runtime === "deno");
  if (cli.length) {
    out.push(
      "## CLI start-up (deno)\n",
      "| what | median ms | x empty | spread (first round) |",
      "|---|---|---|---|",
    );
    const empty = get("deno", "cli", "empty deno run", "start-up", 1);
    for (const impl of ["empty deno run", `${CLI_LOAD} json`, `${CLI_LOAD} sqlite`]) {
      const a = get("deno", "cli", impl, "start-up", 1);
      if (a) {
        const x = empty ? fmtRatio(a.p50us / empty.p50us) : "";
        out.push(`| ${impl} | ${(a.p50us / 1000).toFixed(1)} | ${x} | ${a.note ?? ""} |`);
      }
    }
    out.push("");
  }

  out.push(...adapterReport(get, present, settings.sizes));
  out.push(...targets(get, present, settings.sizes));

  if (skips.length) {
    out.push("## not measured\n");
    const seen = new Set<string>();
    for (const s of skips) {
      const line = `- ${s.runtime}: ${s.group} / ${s.impl}: ${s.reason}`;
      if (!seen.has(line)) out.push(line);
      seen.add(line);
    }
    out.push("");
  }
  console.log(out.join("\n"));
}

function rank(group: string, impl: string): number {
  if (impl === RAW[group]) return 0;
  if (impl === OURS) return 1;
  return 2;
}

function opRank(op: string): number {
  const order = [
    "save",
    "load",
    "load (cached)",
    "update",
    "listKeys (all)",
    "copy all keys",
    "checkpoint",
    "restore",
  ];
  const i = order.indexOf(op);
  return i === -1 ? order.length : i;
}

type Getter = (rt: string, g: string, impl: string, op: string, n: number) => Agg | undefined;

/** The targets, as measured ratios (the worst over sizes), per runtime. */
function targets(get: Getter, runtimes: readonly string[], sizes: number[]): string[] {
  const big = Math.max(...sizes);
  type Check = {
    what: string;
    goal: string;
    test: (x: number) => boolean;
    value: (rt: string) => number | undefined;
    fmt?: (x: number) => string;
  };
  const ratio = (
    rt: string,
    group: string,
    implA: string,
    opA: string,
    implB: string,
    opB: string,
    only?: number[],
  ) => {
    let worst: number | undefined;
    for (const n of only ?? sizes) {
      const a = get(rt, group, implA, opA, n);
      const b = get(rt, group, implB, opB, n);
      if (!a || !b) continue;
      const r = b.p50us / a.p50us; // speed ratio per operation, from median latencies
      worst = worst === undefined ? r : Math.min(worst, r);
    }
    return worst;
  };
  const min = (...xs: (number | undefined)[]) =>
    xs.some((x) => x === undefined) ? undefined : Math.min(...(xs as number[]));
  const atLeast = (k: number) => (x: number) => x >= k;
  const checks: Check[] = [
    {
      what: "sqlite save, load vs raw node:sqlite",
      goal: ">= 0.5x",
      test: atLeast(0.5),
      value: (rt) =>
        min(
          ratio(rt, "sqlite", OURS, "save", RAW.sqlite!, "save"),
          ratio(rt, "sqlite", OURS, "load", RAW.sqlite!, "load"),
        ),
    },
    {
      what: "sqlite save vs keyv + @keyv/sqlite (defaults)",
      goal: ">= 5x",
      test: atLeast(5),
      value: (rt) => ratio(rt, "sqlite", OURS, "save", "keyv + @keyv/sqlite (defaults)", "save"),
    },
    {
      what: "sqlite save vs keyv + @keyv/sqlite (sync=NORMAL, like ours)",
      goal: "(information)",
      test: () => true,
      value: (rt) => ratio(rt, "sqlite", OURS, "save", "keyv + @keyv/sqlite (sync=NORMAL)", "save"),
    },
    {
      what: "sqlite load vs keyv + @keyv/sqlite",
      goal: ">= 2x",
      test: atLeast(2),
      value: (rt) => ratio(rt, "sqlite", OURS, "load", "keyv + @keyv/sqlite (defaults)", "load"),
    },
    {
      what: "redis save, load vs raw ioredis",
      goal: ">= 0.8x",
      test: atLeast(0.8),
      value: (rt) =>
        min(
          ratio(rt, "redis", OURS, "save", RAW.redis!, "save"),
          ratio(rt, "redis", OURS, "load", RAW.redis!, "load"),
        ),
    },
    {
      what: "redis save, load vs keyv + @keyv/redis",
      goal: ">= 1.2x",
      test: atLeast(1.2),
      value: (rt) =>
        min(
          ratio(rt, "redis", OURS, "save", "keyv + @keyv/redis", "save"),
          ratio(rt, "redis", OURS, "load", "keyv + @keyv/redis", "load"),
        ),
    },
    {
      what: "redis cached load vs uncached load",
      goal: ">= 10x",
      test: atLeast(10),
      value: (rt) => ratio(rt, "redis", OURS, "load (cached)", OURS, "load"),
    },
    {
      what: "postgres save, load vs raw pg (prepared upsert / select)",
      goal: ">= 0.8x",
      test: atLeast(0.8),
      value: (rt) =>
        min(
          ratio(rt, "postgres", OURS, "save", RAW.postgres!, "save"),
          ratio(rt, "postgres", OURS, "load", RAW.postgres!, "load"),
        ),
    },
    {
      what: "postgres save vs keyv + @keyv/postgres",
      goal: ">= 1.5x",
      test: atLeast(1.5),
      value: (rt) => ratio(rt, "postgres", OURS, "save", "keyv + @keyv/postgres", "save"),
    },
    {
      what: `postgres checkpoint, restore at ${
        big.toLocaleString("en-US")
      } keys vs raw INSERT ... SELECT`,
      goal: "<= 3x the time (>= 0.33x)",
      test: atLeast(1 / 3),
      value: (rt) =>
        min(
          ratio(rt, "postgres", OURS, "checkpoint", RAW.postgres!, "copy all keys", [big]),
          ratio(rt, "postgres", OURS, "restore", RAW.postgres!, "copy all keys", [big]),
        ),
    },
    {
      what: "postgres cached load (NOTIFY-fed, proven by a LISTEN round trip) vs uncached",
      goal: ">= 10x",
      test: atLeast(10),
      value: (rt) => ratio(rt, "postgres", OURS, "load (cached)", OURS, "load"),
    },
    {
      what: "kv cached load vs uncached load",
      goal: ">= 10x",
      test: atLeast(10),
      value: (rt) => ratio(rt, "kv", OURS, "load (cached)", OURS, "load"),
    },
    {
      what: `json save at ${big.toLocaleString("en-US")} keys vs temp+fsync+rename of one file`,
      goal: ">= 0.5x",
      test: atLeast(0.5),
      value: (rt) => ratio(rt, "json", OURS, "save", RAW.json!, "save", [big]),
    },
    {
      what: `json save at ${big.toLocaleString("en-US")} keys vs lowdb 7`,
      goal: ">= 10x",
      test: atLeast(10),
      value: (rt) => ratio(rt, "json", OURS, "save", "lowdb 7", "save", [big]),
    },
    {
      what: "kv save, load vs raw Deno KV",
      goal: ">= 0.8x",
      test: atLeast(0.8),
      value: (rt) =>
        min(
          ratio(rt, "kv", OURS, "save", RAW.kv!, "save"),
          ratio(rt, "kv", OURS, "load", RAW.kv!, "load"),
        ),
    },
  ];
  for (const group of ["sqlite", "json", "redis", "kv", "postgres"]) {
    checks.push({
      what: `${group} checkpoint, restore of ${
        big.toLocaleString("en-US")
      } keys vs copying every key (time)`,
      goal: "<= 3x",
      test: (x) => x <= 3,
      fmt: (x) => `${x.toFixed(2)}x`,
      value: (rt) => {
        const c = ratio(rt, group, RAW[group]!, "copy all keys", OURS, "checkpoint", [big]);
        const r = ratio(rt, group, RAW[group]!, "copy all keys", OURS, "restore", [big]);
        return c === undefined || r === undefined ? undefined : Math.max(c, r);
      },
    });
  }
  for (const route of ["json -> sqlite", "sqlite -> redis"]) {
    checks.push({
      what: `migrate 100,000 keys ${route}`,
      goal: "< 10 s",
      test: (x) => x < 10,
      fmt: (x) => `${x.toFixed(2)} s`,
      value: (rt) => {
        for (const impl of ["managing-state migrate()", "stand-in: copy via public API"]) {
          const a = get(rt, "migrate", impl, route, 100_000);
          if (a) return a.p50us / 1e6;
        }
        return undefined;
      },
    });
  }
  for (const backend of ["json", "sqlite"]) {
    checks.push({
      what: `CLI \`load\` start-up on ${backend} vs an empty \`deno run\``,
      goal: "<= 1.5x",
      test: (x) => x <= 1.5,
      fmt: (x) => `${x.toFixed(2)}x`,
      value: (rt) => {
        if (rt !== "deno") return undefined;
        const cli = get(rt, "cli", `${CLI_LOAD} ${backend}`, "start-up", 1);
        const empty = get(rt, "cli", "empty deno run", "start-up", 1);
        return cli && empty ? cli.p50us / empty.p50us : undefined;
      },
    });
  }
  const out = ["## targets (worst over sizes)\n"];
  const head = ["target", "goal", ...runtimes.map((rt) => `${rt}`)];
  out.push(`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`);
  for (const c of checks) {
    const cells = [c.what, c.goal];
    for (const rt of runtimes) {
      const v = c.value(rt);
      if (v === undefined) cells.push("not measured");
      else {
        const shown = c.fmt ? c.fmt(v) : fmtRatio(v);
        cells.push(c.goal === "(information)" ? shown : `${shown} ${c.test(v) ? "met" : "MISSED"}`);
      }
    }
    out.push(`| ${cells.join(" | ")} |`);
  }
  out.push("");
  return out;
}
