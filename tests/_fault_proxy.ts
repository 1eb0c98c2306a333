// A loopback TCP proxy between a client and a real server that breaks a
// connection on request: the test arms a fault, and the proxy applies it to
// the next request it sees (after skipping a few). Faults:
//   drop   the request is forwarded, its reply withheld, then both sockets
//          closed: the server ran it, the client never hears.
//   reset  part of the request is forwarded, then both sockets closed.
//   stall  the request is forwarded or held (a coin flip), then nothing moves
//          until `stallMs` has passed and both sockets close: the client's
//          own timeout must fire first.
//   refuse the request is forwarded or not (a coin flip), the connection is
//          closed, and new connections are closed at once for `stallMs`:
//          the client's reconnects fail before anything is sent, so its
//          retries fail with a known outcome after one that is unknown. (The port keeps
//          listening: a freed loopback port can be taken by a client's own
//          connection to it.)
// node:net, so the same proxy runs under Deno and Node.
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** What the proxy does to one request. */
export type FaultMode = "drop" | "reset" | "stall" | "refuse";

/** The proxy's options. */
export interface FaultProxyOptions {
  /** The real server's port on 127.0.0.1. */
  targetPort: number;
  /** How long a stalled connection stays silent before it is closed, in ms. */
  stallMs: number;
  /** Random numbers in [0, 1): seed it for a reproducible schedule. */
  random: () => number;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same schedule. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type PairState = "open" | "dropping" | "stalled" | "closed";

/** A running proxy: point the client at `port`, call `arm()` to break the next request. */
export class FaultProxy {
  readonly port: number;
  /** Faults applied so far, by mode. */
  readonly injected: Record<FaultMode, number> = { drop: 0, reset: 0, stall: 0, refuse: 0 };
  readonly #server: Server;
  readonly #options: FaultProxyOptions;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #armed: { mode: FaultMode; skip: number } | null = null;
  #refusingUntil = 0;

  private constructor(server: Server, port: number, options: FaultProxyOptions) {
    this.#server = server;
    this.port = port;
    this.#options = options;
  }

  /** Starts a proxy on a free loopback port. */
  static start(options: FaultProxyOptions): Promise<FaultProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.on("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address ? address.port : 0;
        const proxy = new FaultProxy(server, port, options);
        server.on("connection", (client) => proxy.#pair(client));
        resolve(proxy);
      });
    });
  }

  /** Breaks the request after the next `skip` ones with `mode` (replacing any armed fault). */
  arm(mode: FaultMode, skip = 0): void {
    this.#armed = { mode, skip };
  }

  /** Forgets an armed fault that has not fired yet. */
  disarm(): void {
    this.#armed = null;
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #take(): FaultMode | null {
    const armed = this.#armed;
    if (!armed) return null;
    if (armed.skip > 0) {
      armed.skip--;
      return null;
    }
    this.#armed = null;
    this.injected[armed.mode]++;
    return armed.mode;
  }

  #later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #pair(client: Socket): void {
    if (Date.now() < this.#refusingUntil) return void client.destroy();
    const upstream = createConnection({ host: "127.0.0.1", port: this.#options.targetPort });
    let state: PairState = "open";
    const close = () => {
      if (state === "closed") return;
      state = "closed";
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("error", close);
      socket.on("close", close);
    }
    client.on("data", (chunk: Uint8Array) => {
      if (state !== "open") return; // stalled or dropping: requests go nowhere
      const mode = this.#take();
      if (mode === null) {
        upstream.write(chunk);
      } else if (mode === "drop") {
        upstream.write(chunk);
        state = "dropping";
        // A request that has no reply still ends the connection.
        this.#later(close, this.#options.stallMs);
      } else if (mode === "refuse") {
        this.#refusingUntil = Date.now() + this.#options.stallMs;
        if (this.#options.random() < 0.5) upstream.write(chunk, close);
        else close();
      } else if (mode === "reset") {
        const cut = Math.floor(this.#options.random() * chunk.length);
        if (cut === 0) close();
        else upstream.write(chunk.subarray(0, cut), close);
      } else {
        if (this.#options.random() < 0.5) upstream.write(chunk);
        state = "stalled";
        this.#later(close, this.#options.stallMs);
      }
    });
    upstream.on("data", (chunk: Uint8Array) => {
      if (state === "open") client.write(chunk);
      else if (state === "dropping") close(); // the reply came: withhold it
    });
  }
}
