// Child process of the LangGraph crash loop: continues a chat thread from
// its newest checkpoint, putting one step after another (with a pending
// write each) and reporting each step only after put() returned, until it
// is SIGKILLed.
import process from "node:process";
import { ManagingStateSaver } from "../adapters/langgraph.ts";
import { type Cursor, putStep, startThread } from "./_langgraph_chat.ts";

const [optionsJson] = process.argv.slice(2);
const saver = new ManagingStateSaver(JSON.parse(optionsJson!));
const latest = await saver.getTuple({ configurable: { thread_id: "crash" } });
let cursor: Cursor = latest
  ? { config: latest.config, versions: latest.checkpoint.channel_versions }
  : startThread("crash");
const report = (line: string) => process.stdout.write(`${line}\n`);
report("ready");
for (let n = latest ? (latest.metadata!.step as number) + 1 : 0;; n++) {
  cursor = await putStep(saver, cursor, n);
  report(`put ${n}`);
  await saver.putWrites(cursor.config, [["messages", `reply ${n}`]], "task");
  report(`writes ${n}`);
}
