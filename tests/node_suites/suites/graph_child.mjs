// One process of the resume test: `start` runs a LangGraph StateGraph until
// its interrupt() and reports it (the parent then SIGKILLs this process);
// `resume` (a new process) resumes the thread with Command({ resume }) from
// the saver and reports the final state and the history.
import { Annotation, Command, END, interrupt, START, StateGraph } from "@langchain/langgraph";
import { ManagingStateSaver } from "@adw/managing-state/langgraph";

const [mode, optionsJson, threadId] = process.argv.slice(2);
const saver = new ManagingStateSaver(JSON.parse(optionsJson));

const State = Annotation.Root({
  steps: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
  approved: Annotation(),
});
const graph = new StateGraph(State)
  .addNode("plan", () => ({ steps: ["plan"] }))
  .addNode("approve", () => {
    const answer = interrupt({ question: "Ship it?" });
    return { steps: ["approve"], approved: answer };
  })
  .addNode("ship", (state) => ({ steps: [state.approved === "yes" ? "ship" : "stop"] }))
  .addEdge(START, "plan")
  .addEdge("plan", "approve")
  .addEdge("approve", "ship")
  .addEdge("ship", END)
  .compile({ checkpointer: saver });

const config = { configurable: { thread_id: threadId } };
const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");

if (mode === "start") {
  const result = await graph.invoke({ steps: ["input"] }, config);
  say({ interrupt: result.__interrupt__?.map((i) => i.value), steps: result.steps });
  // Stay alive: the parent kills this process, as a crash would.
  setInterval(() => {}, 1000);
} else {
  const before = await graph.getState(config);
  const result = await graph.invoke(new Command({ resume: "yes" }), config);
  const history = [];
  for await (const snapshot of graph.getStateHistory(config)) {
    history.push({
      step: snapshot.metadata?.step,
      next: snapshot.next,
      steps: snapshot.values.steps,
    });
  }
  say({ waiting: before.next, steps: result.steps, approved: result.approved, history });
  await saver.close();
}
