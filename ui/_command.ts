// The `ui` CLI command: starts the UI server over the configured backend,
// prints the URL to open, and serves until interrupted (Ctrl-C or SIGTERM).
// The server is imported only when the command runs, so other commands
// start without it.
import { openBackend } from "../backends/_open.ts";
import { validateNamespace } from "../core/_validate.ts";
import type { Command } from "../cli/_context.ts";
import { locationOf, print } from "../cli/_context.ts";
import { location } from "../cli/_info.ts";
import { UsageError } from "../cli/_usage.ts";
import { isLoopback } from "./_auth.ts";

/** Port used when --port is not given. */
export const DEFAULT_PORT = 7405;

function port(text: string | boolean | undefined): number {
  if (typeof text !== "string") return DEFAULT_PORT;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError("--port must be an integer from 0 to 65535 (0 picks a free port)");
  }
  return n;
}

/** The `ui` command, for the CLI's command table. */
export const UI_COMMANDS: Record<string, Command> = {
  ui: {
    summary: "Open a local web page over the state (read-only unless --allow-restore)",
    usage: "ui [--port 7405] [--host 127.0.0.1] [--allow-restore]",
    options: {
      port: { type: "string", help: `port to listen on (default ${DEFAULT_PORT}; 0: any free)` },
      host: { type: "string", help: "address to listen on (default 127.0.0.1: this machine only)" },
      "allow-restore": { type: "boolean", help: "let the page restore checkpoints" },
    },
    async run(ctx) {
      const { settings, values, io } = ctx;
      const host = typeof values.host === "string" ? values.host : "127.0.0.1";
      if (host === "") throw new UsageError("--host must not be empty");
      const chosenPort = port(values.port);
      if (typeof values.namespace === "string") validateNamespace(values.namespace);
      // Listening for Ctrl-C before the URL is printed: a stop sent right after it is not lost.
      const signal = await stopSignal();
      let backend;
      try {
        backend = await openBackend(settings.backend, locationOf(settings));
        // A variable specifier: Deno reads the server only when this runs.
        const specifier = "./server.ts";
        const { startUi } = await (import(specifier) as Promise<typeof import("./server.ts")>);
        const ui = await startUi({
          backend,
          host,
          port: chosenPort,
          allowRestore: values["allow-restore"] === true,
          // The JSON backend's location names one namespace's folder; the page shows them all.
          label: `${settings.backend}: ${
            settings.backend === "json" ? settings.dir : location(settings).display
          }`,
          ...(typeof values.namespace === "string" ? { namespace: values.namespace } : {}),
        }).catch((error) => {
          if ((error as { code?: string }).code === "EADDRINUSE") {
            throw new UsageError(
              `Port ${chosenPort} is in use: pass --port with another number, or --port 0`,
            );
          }
          throw error;
        });
        if (!isLoopback(host)) {
          io.err(
            `warning: listening on ${host}: anyone who can reach this port and has the ` +
              "token can read the state",
          );
        }
        print(
          ctx,
          `managing-state ui: open ${ui.url}\n` +
            (values["allow-restore"] === true ? "restore: allowed" : "read-only") +
            " (Ctrl-C stops)",
          { url: ui.url, port: ui.port, allowRestore: values["allow-restore"] === true },
        );
        await signal.stopped;
        await ui.close();
      } finally {
        signal.dispose();
        await backend?.close();
      }
    },
  },
};

/** A promise of the first SIGINT or SIGTERM; `dispose()` stops listening. */
async function stopSignal(): Promise<{ stopped: Promise<void>; dispose(): void }> {
  // Loaded here: the other commands start faster without it.
  const { default: process } = await import("node:process");
  let dispose = () => {};
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      dispose();
      resolve();
    };
    dispose = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return { stopped, dispose };
}
