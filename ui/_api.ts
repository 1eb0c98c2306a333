// The UI's JSON API: read-only views of namespaces, keys, history and diffs,
// and the one write, restore, which the server allows only when started with
// --allow-restore. One backend is opened for the server's life; a manager
// per namespace shares it.
import { StateManager } from "../state_manager.ts";
import type { Backend, JsonValue } from "../types.ts";
import { CheckpointNotFoundError, StateError, ValidationError } from "../errors.ts";
import { validateCheckpointName } from "../core/_validate.ts";
import { diffValues, readHistory } from "./_lineage.ts";

/** Keys per page on the namespace page, unless the request asks for fewer. */
export const PAGE_SIZE = 100;
/** Most keys one page may ask for. */
const MAX_PAGE = 1000;
/** Keys read per round trip when counting a namespace. */
const COUNT_PAGE = 1000;

/** An API answer: an HTTP status and a JSON body. */
export interface Reply {
  status: number;
  body: unknown;
}

/** A request the API refuses, with the status to send. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** Managers by namespace over one backend. */
export class States {
  readonly backend: Backend;
  readonly #managers = new Map<string, Promise<StateManager>>();

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** The manager for a namespace (validated; 400 when invalid). */
  get(namespace: string | null): Promise<StateManager> {
    if (namespace === null || namespace === "") throw new HttpError(400, "Missing ns");
    let m = this.#managers.get(namespace);
    if (!m) {
      m = StateManager.open({ backend: this.backend, namespace });
      m.catch(() => this.#managers.delete(namespace));
      this.#managers.set(namespace, m);
    }
    return m;
  }

  /** Closes every manager (the backend is closed by its opener). */
  async close(): Promise<void> {
    const all = [...this.#managers.values()];
    this.#managers.clear();
    await Promise.all(all.map(async (m) => (await m.catch(() => null))?.close()));
  }
}

/** What a namespace holds, for the overview. */
export interface NamespaceStats {
  name: string;
  keys: number;
  /** UTF-8 bytes of keys plus their values as JSON text. */
  bytes: number;
  checkpoints: number;
  /** The newest write or checkpoint seen, ms since the epoch, or null. */
  lastChange: number | null;
}

/** Counts keys and bytes page by page, so a large namespace fits in memory. */
async function stats(state: StateManager): Promise<NamespaceStats> {
  const encoder = new TextEncoder();
  let keys = 0;
  let bytes = 0;
  let last: number | null = null;
  let cursor: string | null = null;
  do {
    const page: { keys: string[]; cursor: string | null } = await state.listKeys({
      limit: COUNT_PAGE,
      ...(cursor === null ? {} : { cursor }),
    });
    for (const e of await state.getEntries(page.keys)) {
      if (!e) continue;
      keys++;
      bytes += encoder.encode(e.key).length + encoder.encode(JSON.stringify(e.value)).length;
      const t = versionTime(e.version);
      if (t !== null && (last === null || t > last)) last = t;
    }
    cursor = page.cursor;
  } while (cursor !== null);
  const checkpoints = await state.listCheckpoints();
  for (const c of checkpoints) if (last === null || c.createdAt > last) last = c.createdAt;
  return { name: state.namespace, keys, bytes, checkpoints: checkpoints.length, lastChange: last };
}

/**
 * When a version was written, read from the time prefix that the library's
 * version ids carry (base-36 milliseconds, then "."); null for any other shape.
 */
export function versionTime(version: string): number | null {
  const m = /^([0-9a-z]{6,10})\./.exec(version);
  if (!m) return null;
  const ms = parseInt(m[1]!, 36);
  return ms > 946684800000 && ms < 32503680000000 ? ms : null; // 2000..3000: a plausible time
}

/** One key on the namespace page. */
export interface KeyRow {
  key: string;
  value: JsonValue;
  version: string;
  expiresAt: number | null;
}

function pageSize(text: string | null): number {
  if (text === null) return PAGE_SIZE;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new HttpError(400, `limit must be an integer from 1 to ${MAX_PAGE}`);
  }
  return n;
}

/** Answers a GET under /api/. */
export async function getApi(states: States, path: string, q: URLSearchParams): Promise<Reply> {
  switch (path) {
    case "/api/namespaces":
      return { status: 200, body: await states.backend.namespaces() };
    case "/api/namespace":
      return { status: 200, body: await stats(await states.get(q.get("ns"))) };
    case "/api/keys": {
      const state = await states.get(q.get("ns"));
      const prefix = q.get("prefix") ?? "";
      const cursor = q.get("cursor");
      const page = await state.listKeys({
        limit: pageSize(q.get("limit")),
        ...(prefix ? { prefix } : {}),
        ...(cursor ? { cursor } : {}),
      });
      const entries = await state.getEntries(page.keys);
      const rows: KeyRow[] = entries.flatMap((e) =>
        e ? [{ key: e.key, value: e.value, version: e.version, expiresAt: e.expiresAt }] : []
      );
      return { status: 200, body: { rows, cursor: page.cursor } };
    }
    case "/api/history":
      return { status: 200, body: await readHistory(await states.get(q.get("ns"))) };
    case "/api/diff": {
      const state = await states.get(q.get("ns"));
      const from = q.get("from");
      if (!from) throw new HttpError(400, "Missing from");
      const to = q.get("to") || null;
      return { status: 200, body: await diffValues(state, from, to) };
    }
  }
  throw new HttpError(404, "Not found");
}

/** Restores a checkpoint: the body is `{"ns": "...", "checkpoint": "..."}`. */
export async function restore(states: States, body: string): Promise<Reply> {
  let doc: { ns?: unknown; checkpoint?: unknown };
  try {
    doc = JSON.parse(body);
  } catch {
    throw new HttpError(400, "The body must be JSON");
  }
  if (typeof doc?.ns !== "string" || typeof doc.checkpoint !== "string") {
    throw new HttpError(400, 'The body must be {"ns": string, "checkpoint": string}');
  }
  validateCheckpointName(doc.checkpoint);
  const state = await states.get(doc.ns);
  await state.restoreCheckpoint(doc.checkpoint);
  return { status: 200, body: { restored: doc.checkpoint, ns: doc.ns } };
}

/** The status and message for an error thrown while answering. */
export function errorReply(error: unknown): Reply {
  if (error instanceof HttpError) return { status: error.status, body: { error: error.message } };
  if (error instanceof CheckpointNotFoundError) {
    return { status: 404, body: { error: error.message, code: error.code } };
  }
  if (error instanceof ValidationError) {
    return { status: 400, body: { error: error.message, code: error.code } };
  }
  if (error instanceof StateError) {
    return { status: 500, body: { error: error.message, code: error.code } };
  }
  return { status: 500, body: { error: "Internal error (see the server's terminal)" } };
}
