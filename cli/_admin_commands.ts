// The CLI's commands about the store itself: recover, namespaces, info.
import { StateManager } from "../state_manager.ts";
import { type Command, formatBytes, openOptions, openState, print, table } from "./_context.ts";
import { gatherInfo } from "./_info.ts";

/** recover, namespaces and info. */
export const ADMIN_COMMANDS: Record<string, Command> = {
  recover: {
    summary: "Clean up after a crash and repair damaged files",
    usage: "recover",
    options: {},
    async run(ctx) {
      // StateManager.recover(), not open(): opening a damaged namespace fails, which is the point here.
      const report = await StateManager.recover(openOptions(ctx.settings));
      print(
        ctx,
        report.actions.length ? report.actions.join("\n") : "nothing to recover",
        report,
      );
    },
  },
  namespaces: {
    summary: "List namespaces that hold keys or checkpoints",
    usage: "namespaces",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const names = await state.listNamespaces();
      if (ctx.json) return print(ctx, "", names);
      if (names.length) ctx.io.out(names.join("\n"));
    },
  },
  info: {
    summary: "Show the backend, where its data is, and counts and sizes",
    usage: "info",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const info = await gatherInfo(state, ctx.settings);
      const human: Record<string, string> = {
        ...Object.fromEntries(Object.entries(info).map(([k, v]) => [k, String(v ?? "-")])),
        bytes: formatBytes(info.bytes),
        checkpointBytes: formatBytes(info.checkpointBytes),
        diskBytes: info.diskBytes === null ? "-" : formatBytes(info.diskBytes),
      };
      print(ctx, table(Object.entries(human).map(([k, v]) => [`${k}:`, v])), info);
    },
  },
};
