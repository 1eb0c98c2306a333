// A real LangGraph graph on ManagingStateSaver across processes: one process
// runs a StateGraph until interrupt() and is SIGKILLed; a new process resumes
// the thread with Command({ resume }) and getStateHistory() lists every step.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const child = fileURLToPath(new URL("./graph_child.mjs", import.meta.url));

/** Runs the child until it prints one JSON line; kills it when `kill` is set. */
function run(args, kill) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let answer;
    proc.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0 && answer === undefined) {
        answer = JSON.parse(out.slice(0, nl));
        if (kill) proc.kill("SIGKILL");
      }
    });
    proc.stderr.setEncoding("utf8").on("data", (d) => (err += d));
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      if (answer === undefined) reject(new Error(`child exited (${code ?? signal}): ${err}`));
      else if (kill && signal !== "SIGKILL") reject(new Error(`child was not killed: ${code}`));
      else resolve(answer);
    });
  });
}

export function graphResumeSuite(name, options) {
  describe(`LangGraph StateGraph on ManagingStateSaver (${name})`, () => {
    it("interrupts in one process, resumes in a new one, lists the history", async () => {
      const thread = `thread-${Date.now()}`;
      const started = await run(["start", JSON.stringify(options()), thread], true);
      expect(started).toEqual({ interrupt: [{ question: "Ship it?" }], steps: ["input", "plan"] });
      const resumed = await run(["resume", JSON.stringify(options()), thread], false);
      expect(resumed.waiting).toEqual(["approve"]);
      expect(resumed.steps).toEqual(["input", "plan", "approve", "ship"]);
      expect(resumed.approved).toBe("yes");
      // Newest first: the finished run, then each step back to the input.
      expect(resumed.history.map((h) => h.next)).toEqual([
        [],
        ["ship"],
        ["approve"],
        ["plan"],
        ["__start__"],
      ]);
      expect(resumed.history.map((h) => h.step)).toEqual([3, 2, 1, 0, -1]);
    });
  });
}
