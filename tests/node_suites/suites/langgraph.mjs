// @langchain/langgraph-checkpoint-validation, unmodified, against
// ManagingStateSaver on one backend: every createCheckpointer() gets a
// saver on a namespace of its own, cleared when the suite destroys it.
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { StateManager } from "@adw/managing-state";
import { ManagingStateSaver } from "@adw/managing-state/langgraph";
import { openBackend } from "./_backends.mjs";

export function langgraphSuite(name) {
  let opened;
  let count = 0;
  const namespaces = new Map();
  validate({
    checkpointerName: `ManagingStateSaver on ${name}`,
    beforeAll() {
      opened = openBackend(name);
    },
    afterAll: () => opened.close(),
    createCheckpointer() {
      const namespace = `lg-${++count}`;
      const saver = new ManagingStateSaver({ backend: opened.backend, namespace });
      namespaces.set(saver, namespace);
      return saver;
    },
    async destroyCheckpointer(saver) {
      await saver.close();
      const state = await StateManager.open({
        backend: opened.backend,
        namespace: namespaces.get(saver),
      });
      await state.clear();
      await state.close();
    },
  });
}
