// Child process of the steps kill loop. Mode "lib": runs a workflow of 5
// library steps; each appends a line to a log file outside the store, then
// saves values through the step's writer (reading its own writes). Mode
// "cli": runs the same 5 steps as `cli.ts step --name sN -- sh -c 'echo sN >> log'`
// processes, one after another. Reports progress on stdout until killed.
import { appendFileSync } from "node:fs";
import process from "node:process";
import { StateManager } from "../mod.ts";
import { runScript } from "./_runtime.ts";

const [mode, optionsJson, log, cli] = process.argv.slice(2);
const options = JSON.parse(optionsJson!);
const report = (line: string) => process.stdout.write(`${line}\n`);

/** The workflow's steps: what each saves, given what is there. */
export const STEPS = 5;

if (mode === "lib") {
  const state = await StateManager.open(options);
  report("ready");
  for (let i = 1; i <= STEPS; i++) {
    const result = await state.step(`s${i}`, async (step) => {
      appendFileSync(log!, `s${i}\n`);
      report(`start s${i}`);
      const total = await step.load<number>("total", 0);
      await step.save("total", total + i);
      await step.save(`v${i}`, { i, pad: "x".repeat(i * 40) });
      const v = await step.load<Record<string, unknown>>(`v${i}`);
      await step.save(`v${i}`, { ...v, twice: true });
      if (i === 2) await step.save("scratch", "temporary");
      if (i === 4) await step.delete("scratch");
      // Room for a kill between the effect and the commit.
      await new Promise((r) => setTimeout(r, Math.random() * 4));
      return i * 10;
    });
    report(`done s${i} ${result}`);
  }
  await state.close();
  report("finished");
} else {
  report("ready");
  const location = ["--backend", options.backend, "--namespace", options.namespace];
  for (const flag of ["dir", "path", "url"]) {
    if (options[flag] !== undefined) location.push(`--${flag}`, options[flag]);
  }
  for (let i = 1; i <= STEPS; i++) {
    report(`start s${i}`);
    const r = await runScript(cli!, [
      "step",
      "--name",
      `s${i}`,
      ...location,
      "--lease-ms",
      "3000",
      "--",
      "sh",
      "-c",
      `echo s${i} >> '${log}'; sleep 0.3; echo out-s${i}`,
    ]);
    if (r.code !== 0) throw new Error(`step s${i} exited ${r.code}: ${r.stderr}`);
    report(`done s${i}`);
  }
  report("finished");
}
