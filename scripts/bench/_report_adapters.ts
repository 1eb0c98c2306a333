// The adapters' part of the `deno task bench` report: the Keyv store next to
// @keyv/sqlite and @keyv/redis (through the same Keyv), and the LangGraph
// saver next to @langchain/langgraph-checkpoint-sqlite, as ratios from one run.

/** A measured aggregate, as _report.ts computes it. */
export interface AdapterAgg {
  ops: number;
  p50us: number;
  note?: string;
}

type Getter = (
  rt: string,
  g: string,
  impl: string,
  op: string,
  n: number,
) => AdapterAgg | undefined;

const KEYV_OURS = "keyv + managing-state";
const SAVER_OURS = "ManagingStateSaver (sqlite)";
const SAVER_PEER = "SqliteSaver (@langchain/langgraph-checkpoint-sqlite)";

/** Markdown lines for the adapters; empty when none of their cases ran. */
export function adapterReport(get: Getter, runtimes: readonly string[], sizes: number[]): string[] {
  const out: string[] = [];
  const speed = (rt: string, group: string, peer: string, op: string, n: number) => {
    const ours = get(rt, group, KEYV_OURS, op, n);
    const them = get(rt, group, peer, op, n);
    return ours && them ? them.p50us / ours.p50us : undefined;
  };
  const rows: string[] = [];
  for (
    const [group, peer] of [
      ["sqlite", "keyv + @keyv/sqlite (defaults)"],
      ["sqlite", "keyv + @keyv/sqlite (sync=NORMAL)"],
      ["redis", "keyv + @keyv/redis"],
    ] as const
  ) {
    for (const op of ["save", "load"]) {
      for (const n of sizes) {
        const cells = [
          `${KEYV_OURS} vs ${peer}`,
          `${op} (Keyv set/get)`,
          n.toLocaleString("en-US"),
        ];
        let any = false;
        for (const rt of runtimes) {
          const x = speed(rt, group, peer, op, n);
          any ||= x !== undefined;
          cells.push(x === undefined ? "" : `${x.toFixed(2)}x`);
        }
        if (any) rows.push(`| ${cells.join(" | ")} |`);
      }
    }
  }
  const lg: string[] = [];
  for (const rt of runtimes) {
    for (const n of [200]) {
      const ours = get(rt, "langgraph", SAVER_OURS, "put+getTuple", n);
      const them = get(rt, "langgraph", SAVER_PEER, "put+getTuple", n);
      if (ours) {
        lg.push(
          `| ${rt} | put + getTuple, ${n}-step threads | ${us(ours.p50us)} | ${
            them ? us(them.p50us) : "not measured"
          } | ${them ? `${(them.p50us / ours.p50us).toFixed(2)}x the speed` : ""} |`,
        );
      }
      const op = `bytes stored, ${n}-message chat`;
      const bo = get(rt, "langgraph", SAVER_OURS, op, n);
      const bt = get(rt, "langgraph", SAVER_PEER, op, n);
      if (bo) {
        lg.push(
          `| ${rt} | ${op} (${bo.note ?? ""}) | ${bytes(bo.p50us)} | ${
            bt ? `${bytes(bt.p50us)} (${bt.note ?? ""})` : "not measured"
          } | ${bt ? `${(bt.p50us / bo.p50us).toFixed(1)}x smaller` : ""} |`,
        );
      }
    }
  }
  if (rows.length) {
    out.push(
      "## Keyv store (speed per operation from p50 latencies, same Keyv in front)\n",
      `| comparison | operation | keys | ${runtimes.join(" | ")} |`,
      `|---|---|---|${runtimes.map(() => "---").join("|")}|`,
      ...rows,
      "",
    );
  }
  if (lg.length) {
    out.push(
      "## LangGraph saver (sqlite) vs @langchain/langgraph-checkpoint-sqlite\n",
      "| runtime | what | ManagingStateSaver | SqliteSaver | ours vs SqliteSaver |",
      "|---|---|---|---|---|",
      ...lg,
      "",
    );
  }
  return out;
}

function us(p50: number): string {
  return p50 >= 1000 ? `${(p50 / 1000).toFixed(2)} ms` : `${p50.toFixed(0)} µs`;
}

function bytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}
