// Resources: `state://<namespace>` (every key and value as one JSON object)
// and `state://<namespace>/checkpoints/<name>` (a checkpoint's keys and
// values). A client may subscribe to `state://<namespace>`: a StateManager
// watcher on the whole namespace sees changes made by any process and each
// one sends `notifications/resources/updated` (coalesced per burst).
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  type SubscribeRequest,
  SubscribeRequestSchema,
  type UnsubscribeRequest,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { Variables } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import { ValidationError } from "../errors.ts";
import type { StateManager } from "../state_manager.ts";
import type { States } from "./_states.ts";
import { errorResult } from "./_errors.ts";

const JSON_TYPE = "application/json";
/** How long a burst of changes is gathered into one notification, in ms. */
const COALESCE_MS = 20;

/** The URI of a namespace's resource. */
export function stateUri(namespace: string): string {
  return `state://${namespace}`;
}

/** The URI of a checkpoint's resource (its name percent-encoded). */
export function checkpointUri(namespace: string, name: string): string {
  return `state://${namespace}/checkpoints/${encodeURIComponent(name)}`;
}

/** Registers both resource templates and the subscribe handlers; returns a stop function. */
export function registerResources(server: McpServer, states: States): () => Promise<void> {
  server.registerResource(
    "state",
    new ResourceTemplate("state://{namespace}", {
      list: async () => ({
        resources: (await (await states.get()).listNamespaces()).map((ns) => ({
          uri: stateUri(ns),
          name: ns,
          mimeType: JSON_TYPE,
        })),
      }),
    }),
    {
      title: "A namespace's state",
      description: "Every key of the namespace and its value, as one JSON object in key order",
      mimeType: JSON_TYPE,
    },
    async (uri: URL, { namespace }: Variables) => {
      const state = await open(states, String(namespace));
      return json(uri.href, await state.dump());
    },
  );
  server.registerResource(
    "checkpoint",
    new ResourceTemplate("state://{namespace}/checkpoints/{name}", {
      list: async () => {
        const state = await states.get();
        return {
          resources: (await state.listCheckpoints()).map((c) => ({
            uri: checkpointUri(state.namespace, c.name),
            name: `${state.namespace}/${c.name}`,
            mimeType: JSON_TYPE,
          })),
        };
      },
    }),
    {
      title: "A checkpoint",
      description: "Every key of a checkpoint and its value, as one JSON object in key order",
      mimeType: JSON_TYPE,
    },
    async (uri: URL, { namespace, name }: Variables) => {
      const state = await open(states, String(namespace));
      const checkpoint = decodeURIComponent(String(name));
      try {
        return json(uri.href, await state.readCheckpoint(checkpoint));
      } catch (error) {
        throw readError(error, states);
      }
    },
  );
  return subscriptions(server, states);
}

async function open(states: States, namespace: string): Promise<StateManager> {
  try {
    return await states.get(namespace);
  } catch (error) {
    throw readError(error, states);
  }
}

/** An error for a failed resource read, in the same words as a tool's. */
function readError(error: unknown, states: States): Error {
  return new Error(errorResult(error, states.url).content[0]!.text);
}

function json(uri: string, value: unknown) {
  return { contents: [{ uri, mimeType: JSON_TYPE, text: JSON.stringify(value, null, 2) }] };
}

/** Handles resources/subscribe and /unsubscribe; returns what stops every watcher. */
function subscriptions(server: McpServer, states: States): () => Promise<void> {
  const watching = new Map<string, { close(): Promise<void> }>();
  const pending = new Set<string>();
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async ({ params }: SubscribeRequest) => {
    const m = /^state:\/\/([^/]+)$/.exec(params.uri);
    if (!m) {
      throw readError(
        new ValidationError(
          `Cannot subscribe to ${params.uri}: only state://<namespace> changes ` +
            "(a checkpoint is fixed once taken)",
        ),
        states,
      );
    }
    if (watching.has(params.uri)) return {};
    const state = await open(states, m[1]!);
    const watcher = state.watch({ prefix: "" });
    await watcher.ready;
    watching.set(params.uri, watcher);
    void (async () => {
      try {
        for await (const _change of watcher) notify(params.uri);
      } catch {
        // The watcher failed (the store went away): the subscription ends with it.
        watching.delete(params.uri);
      }
    })();
    return {};
  });
  server.server.setRequestHandler(
    UnsubscribeRequestSchema,
    async ({ params }: UnsubscribeRequest) => {
      const watcher = watching.get(params.uri);
      watching.delete(params.uri);
      await watcher?.close();
      return {};
    },
  );
  function notify(uri: string) {
    if (pending.has(uri)) return;
    pending.add(uri);
    setTimeout(() => {
      pending.delete(uri);
      if (watching.has(uri)) server.server.sendResourceUpdated({ uri }).catch(() => {});
    }, COALESCE_MS);
  }
  return async () => {
    const all = [...watching.values()];
    watching.clear();
    await Promise.allSettled(all.map((w) => w.close()));
  };
}
