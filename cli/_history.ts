// The CLI's view of a namespace's history: `status` (where the state stands
// against its head) and the lineage drawing of `checkpoints --tree`.
import { treeRows } from "../core/_lineage.ts";
import type { CheckpointInfo, Head } from "../types.ts";
import type { Status } from "../options.ts";
import { type Command, openState, print, safe, table } from "./_context.ts";
import { location } from "./_info.ts";

/** Keys listed per kind of change before "and N more". */
const SHOWN = 10;

/** When a head was reached, as text: `taken 2026-...Z` / `restored 2026-...Z`. */
export function headText(head: Head): string {
  return `${head.name} (${head.via === "restore" ? "restored" : "taken"} ${
    new Date(head.at).toISOString()
  })`;
}

function changeLines(status: Status): string[] {
  const { added, removed, changed } = status.changes;
  const lines: string[] = [];
  for (const [mark, keys] of [["+", added], ["-", removed], ["~", changed]] as const) {
    lines.push(...keys.slice(0, SHOWN).map((k) => `  ${mark} ${safe(k)}`));
    if (keys.length > SHOWN) lines.push(`  ${mark} ... and ${keys.length - SHOWN} more`);
  }
  return lines;
}

/** The human form of `status`. */
function statusText(status: Status, where: string): string {
  const { added, removed, changed } = status.changes;
  const newest = status.newest
    ? `${status.newest.name} (${new Date(status.newest.createdAt).toISOString()})`
    : "none";
  const rows = [
    ["namespace:", status.namespace],
    ["backend:", `${status.backend} (${where})`],
    ["keys:", String(status.keyCount)],
    ["head:", status.head ? headText(status.head) : "none (no checkpoint taken or restored yet)"],
    ["newest:", newest],
  ];
  if (status.head) {
    rows.push([
      "since head:",
      `${added.length} added, ${removed.length} removed, ${changed.length} changed`,
    ]);
  }
  const lines = [table(rows), ...(status.head ? changeLines(status) : [])];
  if (status.abandoned && status.newest && status.head) {
    lines.push(
      `hint: the newest checkpoint, ${safe(status.newest.name)}, is not an ancestor of the ` +
        `head ${safe(status.head.name)}: a restore left its branch. Resume from the head, or ` +
        `"restore --checkpoint ${
          safe(status.newest.name)
        }" to go back to it ("checkpoints --tree" ` +
        `draws the branches)`,
    );
  }
  return lines.join("\n");
}

/** `status`. */
export const STATUS_COMMAND: Record<string, Command> = {
  status: {
    summary: "Show where the state stands: its head checkpoint, what changed since, the newest",
    usage: "status",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const status = await state.status();
      const where = location(ctx.settings).display;
      print(ctx, statusText(status, where), { ...status, location: where });
    },
  },
};

/** The lineage as an indented tree; the head is marked. */
export function treeText(
  list: CheckpointInfo[],
  head: Head | null,
  meta: (c: CheckpointInfo) => string,
): string {
  const rows = treeRows(list, head);
  const lines: string[] = [];
  // open[d]: whether the branch at depth d goes on below this row (draws "│").
  const open: boolean[] = [];
  rows.forEach((row, i) => {
    let last = true;
    for (let j = i + 1; j < rows.length && rows[j]!.depth >= row.depth; j++) {
      if (rows[j]!.depth === row.depth) {
        last = false;
        break;
      }
    }
    open[row.depth] = !last;
    const indent = Array.from(
      { length: Math.max(0, row.depth - 1) },
      (_, d) => open[d + 1] ? "│  " : "   ",
    ).join("");
    const branch = row.depth === 0 ? "" : last ? "└─ " : "├─ ";
    const mark = row.head ? " *" : "";
    lines.push(
      `${indent}${branch}${safe(row.info.name)}${mark}  ${
        new Date(row.info.createdAt).toISOString()
      }  ${meta(row.info)}`,
    );
  });
  return lines.join("\n");
}

/** For `checkpoints --tree --json`: the rows, depth first. */
export function treeJson(list: CheckpointInfo[], head: Head | null) {
  return treeRows(list, head).map((r) => ({ ...r.info, depth: r.depth, head: r.head }));
}
