// Live updates: one watch() per namespace, shared by every page that shows
// it, pushed to each page as server-sent events. The watcher starts with the
// first page and stops with the last, so an idle server polls nothing.
import type { ServerResponse } from "node:http";
import type { Watcher } from "../core/_watch.ts";
import type { States } from "./_api.ts";

/** How often a namespace's change signal is polled: a save shows within a second. */
const POLL_MS = 200;
/** A comment line this often keeps proxies and the browser from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

interface Feed {
  watcher: Watcher;
  clients: Set<ServerResponse>;
  done: Promise<void>;
}

/** Server-sent event streams by namespace. */
export class EventHub {
  readonly #states: States;
  readonly #feeds = new Map<string, Feed>();
  readonly #heartbeat: ReturnType<typeof setInterval>;

  constructor(states: States) {
    this.#states = states;
    this.#heartbeat = setInterval(() => {
      for (const feed of this.#feeds.values()) {
        for (const res of feed.clients) res.write(": keep-alive\n\n");
      }
    }, HEARTBEAT_MS);
  }

  /**
   * Streams a namespace's changes to `res` until the page goes away. The
   * first event, `ready`, says that every later change will be sent.
   */
  async subscribe(ns: string, res: ServerResponse): Promise<void> {
    const state = await this.#states.get(ns);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    let feed = this.#feeds.get(ns);
    if (!feed) {
      const watcher = state.watch({ prefix: "" }, { intervalMs: POLL_MS });
      const clients = new Set<ServerResponse>();
      const done = this.#pump(ns, watcher, clients);
      feed = { watcher, clients, done };
      this.#feeds.set(ns, feed);
    }
    feed.clients.add(res);
    res.on("close", () => this.#leave(ns, res));
    const current = feed;
    current.watcher.ready.then(
      () => send(res, "ready", {}),
      (error) => send(res, "failed", { error: String((error as Error)?.message ?? error) }),
    );
  }

  async #pump(ns: string, watcher: Watcher, clients: Set<ServerResponse>): Promise<void> {
    try {
      for await (const change of watcher) {
        for (const res of clients) send(res, "change", change);
      }
    } catch (error) {
      for (const res of clients) {
        send(res, "failed", { error: String((error as Error)?.message ?? error) });
        res.end();
      }
      this.#feeds.delete(ns);
    }
  }

  #leave(ns: string, res: ServerResponse): void {
    const feed = this.#feeds.get(ns);
    if (!feed?.clients.delete(res) || feed.clients.size > 0) return;
    this.#feeds.delete(ns);
    void feed.watcher.close();
  }

  /** Ends every stream and watcher. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    const feeds = [...this.#feeds.values()];
    this.#feeds.clear();
    for (const feed of feeds) for (const res of feed.clients) res.end();
    await Promise.all(feeds.map(async (f) => {
      await f.watcher.close();
      await f.done;
    }));
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  // JSON has no raw line breaks, so one `data:` line carries it whole.
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
