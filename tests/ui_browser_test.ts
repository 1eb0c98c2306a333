// `managing-state ui` in a real browser: Debian's chromium driven by
// playwright-core (nothing downloads a browser), against the `ui` command
// run as a real process over json, sqlite and redis with prepared data.
// Screenshots of each main view are written to UI_SCREENSHOTS (default: a
// folder in the system temp dir); docs/ui.png is one of them.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type OpenOptions, StateManager } from "../mod.ts";
import { http, startUi, type UiProcess } from "./_ui.ts";
import { isDeno, removeDir, tempDir } from "./_runtime.ts";
import { redisTarget } from "./_redis_server.ts";

/** Debian's chromium; `.ci/run` installs it where missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = process.env.UI_SCREENSHOTS ?? join(tmpdir(), "managing-state-ui-screenshots");

/** Payloads that would run if a key, value or name reached the page as HTML or a link. */
const PAYLOADS = [
  "<script>window.__pwned=1</script>",
  '<img src=x onerror="window.__pwned=2">',
  "javascript:window.__pwned=3",
  '"><svg onload=window.__pwned=4>',
  "</td></tr><iframe srcdoc='<script>parent.__pwned=5</script>'>",
  "{{constructor.constructor('window.__pwned=6')()}}",
];

/** Why the browser tests cannot run here, or null. */
function unavailable(): string | null {
  if (!isDeno) return "the browser tests run once, under Deno (the HTTP tests cover Node)";
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install chromium)`;
  return null;
}

const reason = unavailable();
if (reason && isDeno && process.env.CI) {
  test("ui browser: chromium is installed", () => {
    throw new Error(`${reason}. CI is set, so this is a failure.`);
  });
} else if (reason) {
  if (isDeno) console.warn(`WARNING: skipping the browser tests: ${reason}`);
  test("ui browser: skipped", { skip: reason }, () => {});
} else {
  await browserTests();
}

interface Store {
  name: string;
  /** `ui` flags that reach this store. */
  args: string[];
  /** Options for StateManager.open() on the same store. */
  options: OpenOptions;
  /** Namespace names, unique per run (a shared REDIS_URL may hold others). */
  ns: { wf: string; xss: string; live: string; restore: string; many: string; tree: string };
  cleanup(): Promise<void>;
}

async function stores(): Promise<Store[]> {
  const run = crypto.randomUUID().slice(0, 6);
  const names = (b: string) => ({
    wf: `wf-${b}-${run}`,
    xss: `xss-${b}-${run}`,
    live: `live-${b}-${run}`,
    restore: `restore-${b}-${run}`,
    many: `many-${b}-${run}`,
    tree: `tree-${b}-${run}`,
  });
  const out: Store[] = [];
  const jsonDir = tempDir("ms-ui-json-");
  out.push({
    name: "json",
    args: ["--backend", "json", "--dir", jsonDir],
    options: { backend: "json", dir: jsonDir },
    ns: names("json"),
    cleanup: () => Promise.resolve(removeDir(jsonDir)),
  });
  const sqliteDir = tempDir("ms-ui-sqlite-");
  const path = join(sqliteDir, "state.db");
  out.push({
    name: "sqlite",
    args: ["--backend", "sqlite", "--path", path],
    options: { backend: "sqlite", path },
    ns: names("sqlite"),
    cleanup: () => Promise.resolve(removeDir(sqliteDir)),
  });
  const redis = await redisTarget();
  if (typeof redis === "string") {
    if (process.env.CI) throw new Error(`ui browser: no Redis server (${redis})`);
    console.warn(`WARNING: ui browser tests skip redis: ${redis}`);
  } else {
    const ns = names("redis");
    out.push({
      name: "redis",
      args: ["--backend", "redis", "--url", redis.url],
      options: { backend: "redis", url: redis.url },
      ns,
      async cleanup() {
        for (const n of Object.values(ns)) {
          await using s = await StateManager.open({
            backend: "redis",
            url: redis.url,
            namespace: n,
          });
          await s.clear();
        }
        await redis.server?.stop();
      },
    });
  }
  return out;
}

/** Prepared data: a workflow with two checkpoints, a namespace of payloads. */
async function seed(store: Store): Promise<void> {
  const open = (namespace: string) => StateManager.open({ ...store.options, namespace });
  {
    await using s = await open(store.ns.wf);
    await s.saveMany({
      phase: "plan",
      "task:1": { title: "scout", nested: { deep: { treasure: "gold-coin" } }, steps: [1, 2, 3] },
      "task:2": { title: "plan" },
      note: "drop me",
    });
    await s.checkpoint("after_plan", { metadata: { phase: "plan" } });
    await s.saveMany({ phase: "build", "task:3": { title: "build" } });
    await s.delete("note");
    await s.checkpoint("after_build", { metadata: { phase: "build" } });
    await s.save("lease", "worker-1", { ttlMs: 3_600_000 });
  }
  {
    await using s = await open(store.ns.xss);
    const values: Record<string, unknown> = {};
    PAYLOADS.forEach((p, i) => {
      values[p] = { [p]: [p, { inner: p }], index: i };
    });
    await s.saveMany(values);
    await s.checkpoint(PAYLOADS[1]!, { metadata: { note: PAYLOADS[0]! } });
    await s.save(PAYLOADS[0]!, PAYLOADS[3]!);
  }
  {
    await using s = await open(store.ns.live);
    await s.saveMany({ counter: 0, status: "waiting" });
  }
  {
    // a -> b, then back to a and on to c: b is an abandoned branch, c the head.
    await using s = await open(store.ns.tree);
    await s.save("step", "a");
    await s.checkpoint("a");
    await s.save("step", "b");
    await s.checkpoint("b");
    await s.restoreCheckpoint("a");
    await s.save("step", "c");
    await s.checkpoint("c");
    await s.save("extra", true);
  }
  {
    await using s = await open(store.ns.many);
    const keys: Record<string, number> = {};
    for (let i = 0; i < 250; i++) keys[`item:${String(i).padStart(3, "0")}`] = i;
    await s.saveMany(keys);
  }
  {
    await using s = await open(store.ns.restore);
    await s.save("phase", "plan");
    await s.checkpoint("good");
    await s.saveMany({ phase: "broken", junk: true });
  }
}

/** What a page did that it should not: dialogs, errors, console errors. */
interface Watch {
  dialogs: string[];
  errors: string[];
}

function watchPage(page: Page): Watch {
  const w: Watch = { dialogs: [], errors: [] };
  page.on("dialog", (d) => {
    w.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("pageerror", (e) => w.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") w.errors.push(`console: ${m.text()}`);
  });
  return w;
}

async function browserTests(): Promise<void> {
  let browser: Browser;
  const all = await stores();
  const uis = new Map<string, { ro: UiProcess; rw: UiProcess }>();
  const cwd = tempDir("ms-ui-cwd-");

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    for (const store of all) {
      await seed(store);
      const [ro, rw] = await Promise.all([
        startUi(store.args, cwd),
        startUi([...store.args, "--allow-restore"], cwd),
      ]);
      uis.set(store.name, { ro, rw });
    }
  });

  after(async () => {
    await browser?.close();
    for (const { ro, rw } of uis.values()) await Promise.all([ro.stop(), rw.stop()]);
    for (const store of all) await store.cleanup();
    removeDir(cwd);
  });

  /** A signed-in page: the printed URL opened, then `hash`. */
  async function open(ui: UiProcess, hash = "", theme: "light" | "dark" = "light") {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      colorScheme: theme,
    });
    const page = await context.newPage();
    const watch = watchPage(page);
    // The printed address with a view appended: the token goes, the view stays.
    await page.goto(ui.url + hash);
    assert.equal(page.url(), `${ui.base}/${hash}`, "the token left the address bar");
    await page.waitForSelector("body[data-view]:not([data-view=loading])");
    return { page, watch, close: () => context.close() };
  }

  const view = (page: Page, name: string) => page.waitForSelector(`body[data-view="${name}"]`);
  const shot = async (page: Page, file: string) => {
    const path = join(SHOTS, file);
    await page.screenshot({ path, fullPage: false });
    assert.ok(statSync(path).size > 5000, `${file} is a real picture`);
  };
  const hashOf = (...parts: string[]) => "#/" + parts.map(encodeURIComponent).join("/");

  for (const store of all) {
    const b = store.name;
    const { wf, xss, live, restore, many, tree } = store.ns;

    test(`ui ${b}: namespaces, open one, search by prefix, open a nested value`, async () => {
      const { ro } = uis.get(b)!;
      const { page, watch, close } = await open(ro);
      try {
        const row = page.locator(`#namespaces tr[data-ns="${wf}"]`);
        await row.locator("td").nth(1).filter({ hasText: /^5$/ }).waitFor();
        assert.equal(await row.locator("td").nth(3).textContent(), "2", "checkpoints");
        await shot(page, `${b}-namespaces.png`);
        await row.locator("a").click();
        await view(page, "keys");
        assert.deepEqual(await page.locator("#keys tbody tr").evaluateAll(keysOf), [
          "lease",
          "phase",
          "task:1",
          "task:2",
          "task:3",
        ]);
        assert.match((await page.locator('tr[data-key="lease"] td').nth(2).textContent())!, /^in /);
        await page.locator("#summary", {
          hasText: /^5 keys, [\d.]+ B, 2 checkpoints, last change /,
        })
          .waitFor();
        // "/" focuses the search box; the prefix goes into the address.
        await page.keyboard.press("/");
        await page.keyboard.type("task:");
        await page.keyboard.press("Enter");
        await page.waitForFunction(() =>
          (globalThis as unknown as PageGlobals).location.hash.includes("prefix=task%3A")
        );
        await page.waitForFunction(() =>
          (globalThis as unknown as PageGlobals).document.querySelectorAll("#keys tbody tr")
            .length === 3
        );
        // Open task:1's value, then its nested objects, by keyboard.
        const cell = page.locator('tr[data-key="task:1"] td.value');
        await cell.locator("summary").first().focus();
        await page.keyboard.press("Enter");
        await cell.locator("summary", { hasText: /^nested: / }).click();
        await cell.locator("summary", { hasText: /^deep: / }).click();
        await cell.locator("span.j-string", { hasText: '"gold-coin"' }).waitFor();
        assert.equal(await strayText(page), 0);
        await shot(page, `${b}-keys.png`);
        // The address is a bookmark: reloading shows the same search.
        await page.reload();
        await view(page, "keys");
        assert.equal(await page.locator("#search").inputValue(), "task:");
        assert.equal(await page.locator("#keys tbody tr").count(), 3);
        assert.deepEqual(watch, { dialogs: [], errors: [] });
      } finally {
        await close();
      }
    });

    test(`ui ${b}: keys come 100 a page; each page has its own address`, async () => {
      const { ro } = uis.get(b)!;
      const { page, watch, close } = await open(ro, hashOf("ns", many));
      try {
        const firstKeys = async () => {
          await view(page, "keys");
          const keys = await page.locator("#keys tbody tr").evaluateAll(keysOf);
          return [keys.length, keys[0]];
        };
        assert.deepEqual(await firstKeys(), [100, "item:000"]);
        await page.locator("#next").click();
        await page.waitForFunction(() =>
          (globalThis as unknown as PageGlobals).location.hash.includes("cursor=item%3A099")
        );
        assert.deepEqual(await firstKeys(), [100, "item:100"]);
        await page.locator("#next").click();
        await page.locator('tr[data-key="item:200"]').waitFor();
        assert.deepEqual(await firstKeys(), [50, "item:200"]);
        assert.equal(await page.locator("#next").count(), 0, "the last page has no next");
        await page.goBack();
        await page.locator('tr[data-key="item:100"]').waitFor();
        // Light and dark: "t" switches, and the choice outlives a reload.
        const theme = () => page.locator("html").getAttribute("data-theme");
        await page.keyboard.press("t");
        assert.equal(await theme(), "dark");
        await page.reload();
        await view(page, "keys");
        assert.equal(await theme(), "dark");
        await page.keyboard.press("t");
        assert.equal(await theme(), "light");
        assert.deepEqual(watch, { dialogs: [], errors: [] });
      } finally {
        await close();
      }
    });

    test(`ui ${b}: a save by another process shows within a second, no reload`, async () => {
      const { ro } = uis.get(b)!;
      const { page, watch, close } = await open(ro, hashOf("ns", live));
      try {
        await page.waitForSelector("body[data-live=on]");
        await using s = await StateManager.open({ ...store.options, namespace: live });
        const marker = `done-${Date.now()}`;
        await s.save("status", marker);
        const saved = Date.now();
        await page.locator('tr[data-key="status"]').getByText(JSON.stringify(marker)).waitFor({
          timeout: 5000,
        });
        const ms = Date.now() - saved;
        assert.ok(ms < 1000, `the change showed after ${ms} ms`);
        await s.save("added", [1, 2]);
        await page.locator('tr[data-key="added"]').waitFor({ timeout: 5000 });
        await s.delete("counter");
        await page.locator('tr.gone[data-key="counter"]').waitFor({ timeout: 5000 });
        assert.deepEqual(watch, { dialogs: [], errors: [] });
      } finally {
        await close();
      }
    });

    test(`ui ${b}: history, then a diff of two checkpoints with old and new values`, async () => {
      const { ro } = uis.get(b)!;
      const { page, watch, close } = await open(ro, hashOf("ns", wf, "history"), "dark");
      try {
        await view(page, "history");
        assert.deepEqual(
          await page.locator("#history tbody tr").evaluateAll((rows) =>
            rows.map((r) => (r as unknown as DomLike).dataset.checkpoint)
          ),
          ["after_plan", "after_build"],
        );
        assert.match(await page.locator("#history").textContent() ?? "", /"phase":"build"/);
        assert.equal(await page.locator("button[data-restore]").count(), 0, "read-only");
        await shot(page, `${b}-history-dark.png`);
        await page.keyboard.press("d");
        await view(page, "diff");
        await page.selectOption("#from", "after_plan");
        await page.selectOption("#to", "after_build");
        await page.locator("form.bar button[type=submit]").click();
        await page.waitForSelector("#changed");
        assert.match(page.url(), /#\/ns\/[^/]+\/diff\?from=after_plan&to=after_build$/);
        const phase = page.locator('#changed tr[data-key="phase"]');
        assert.equal(await phase.locator("td.old").textContent(), '"plan"');
        assert.equal(await phase.locator("td.new").textContent(), '"build"');
        assert.match((await page.locator('#added tr[data-key="task:3"]').textContent())!, /build/);
        assert.match(
          (await page.locator('#removed tr[data-key="note"]').textContent())!,
          /drop me/,
        );
        assert.equal(await strayText(page), 0);
        await page.emulateMedia({ colorScheme: "light" });
        await shot(page, `${b}-diff.png`);
        // Against now: the lease saved after the last checkpoint is added.
        await page.goto(`${ro.base}/${hashOf("ns", wf, "diff")}?from=after_build`);
        await page.locator('#added tr[data-key="lease"]').waitFor();
        assert.deepEqual(watch, { dialogs: [], errors: [] });
      } finally {
        await close();
      }
    });

    test(`ui ${b}: history as a tree: parent links, the head, an abandoned branch`, async () => {
      const { ro } = uis.get(b)!;
      const { page, watch, close } = await open(ro, hashOf("ns", tree, "history"));
      try {
        await view(page, "history");
        const rows = await page.locator("#history tbody tr").evaluateAll((trs) =>
          (trs as unknown as DomLike[]).map((tr) => [tr.dataset.checkpoint, tr.textContent])
        );
        assert.deepEqual(rows.map((r) => r[0]), ["a", "b", "c"]);
        assert.match(rows[1]![1]!, /abandoned/);
        assert.match(rows[2]![1]!, /HEAD/);
        assert.doesNotMatch(rows[0]![1]!, /abandoned|HEAD/);
        // b branches off; c continues a's line.
        const depth = (name: string) =>
          page.locator(`tr[data-checkpoint="${name}"] .node`).evaluate((n) =>
            (n as unknown as { style: { getPropertyValue(p: string): string } }).style
              .getPropertyValue("--depth")
          );
        assert.deepEqual([await depth("a"), await depth("b"), await depth("c")], ["0", "1", "0"]);
        await page.locator("#head", {
          hasText: /^Head: c \(taken .*\)\. Since then: 1 added, 0 removed, 0 changed/,
        })
          .waitFor();
        // The newest checkpoint (c) is on the head's line, so no warning; b's row says it.
        assert.equal(await page.locator("#abandoned").count(), 0);
        await shot(page, `${b}-history-tree.png`);
        // The link from c to its parent opens the diff a -> c.
        await page.locator('tr[data-checkpoint="c"] a', { hasText: "vs parent" }).click();
        await page.waitForSelector("#changed");
        assert.match(page.url(), /diff\?from=a&to=c$/);
        assert.equal(
          await page.locator('#changed tr[data-key="step"] td.new').textContent(),
          '"c"',
        );
        assert.deepEqual(watch, { dialogs: [], errors: [] });
      } finally {
        await close();
      }
    });

    test(`ui ${b}: restore with --allow-restore asks first; refused without it`, async () => {
      const { ro, rw } = uis.get(b)!;
      const { page, watch, close } = await open(rw, hashOf("ns", restore, "history"));
      const check = await StateManager.open({ ...store.options, namespace: restore });
      try {
        await view(page, "history");
        // Cancel first: nothing happens.
        await page.locator('button[data-restore="good"]').click();
        await page.locator("#confirm[open]").waitFor();
        await page.locator('#confirm button[value="cancel"]').click();
        assert.equal(await check.load("phase"), "broken");
        await page.locator('button[data-restore="good"]').click();
        await page.locator("#confirm-ok").click();
        await page.getByText("Restored good").waitFor();
        await page.locator("#head", { hasText: /^Head: good \(restored / }).waitFor();
        assert.equal(await check.load("phase"), "plan");
        assert.equal(await check.has("junk"), false);
        await page.keyboard.press("k");
        await view(page, "keys");
        assert.deepEqual(await page.locator("#keys tbody tr").evaluateAll(keysOf), ["phase"]);
        assert.deepEqual(watch, { dialogs: [], errors: [] });
        await check.save("phase", "broken-again");
        // Without --allow-restore: no button, and the page's own POST is refused.
        const other = await open(ro, hashOf("ns", restore, "history"));
        try {
          await view(other.page, "history");
          assert.equal(await other.page.locator("button[data-restore]").count(), 0);
          await other.page.getByText("Read-only").waitFor();
          assert.equal(await postRestore(other.page, restore), 403);
        } finally {
          await other.close();
        }
        // Without the token: a fresh browser gets 401 for the page and the POST.
        const stranger = await browser.newContext();
        try {
          const p = await stranger.newPage();
          const r = await p.goto(`${rw.base}/`);
          assert.equal(r?.status(), 401);
          assert.equal(await postRestore(p, restore), 401);
        } finally {
          await stranger.close();
        }
        // From another origin, in the signed-in browser: a page on another port
        // (same site, so the SameSite cookie goes along) posts a form and a fetch.
        await fromOtherOrigin(page, rw, restore);
        assert.equal(await check.load("phase"), "broken-again", "nothing restored");
      } finally {
        await check.close();
        await close();
      }
    });

    test(`ui ${b}: script payloads in keys, values and names render as text and run nothing`, async () => {
      const { rw } = uis.get(b)!;
      const { page, watch, close } = await open(rw, hashOf("ns", xss));
      try {
        await view(page, "keys");
        // Open every fold, level by level (children are built when their parent opens).
        for (let round = 0; round < 4; round++) {
          await page.evaluate(
            'document.querySelectorAll("td.value details").forEach((d) => d.open = true)',
          );
          await page.waitForTimeout(100);
        }
        // Every object value was opened down to its innermost key (one value is a plain string).
        assert.equal(
          await page.locator("span.j-k", { hasText: /^inner: $/ }).count(),
          PAYLOADS.length - 1,
        );
        const rows = await page.locator("#keys tbody tr").evaluateAll((trs) =>
          (trs as unknown as DomLike[]).map((tr) => [
            tr.dataset.key,
            tr.querySelector("td.key")!.textContent,
          ])
        );
        assert.equal(rows.length, PAYLOADS.length);
        for (const [key, text] of rows) assert.equal(text, key);
        assert.deepEqual(rows.map((r) => r[0]).sort(), [...PAYLOADS].sort());
        const body = (await page.locator("#keys").textContent())!;
        // Values as typed (the first payload's own value was replaced by the fourth).
        for (const p of PAYLOADS.slice(1)) assert.ok(body.includes(JSON.stringify(p)), p);
        await page.goto(`${rw.base}/${hashOf("ns", xss, "history")}`);
        await view(page, "history");
        await page.locator("#history").getByText(PAYLOADS[1]!, { exact: true }).waitFor();
        await page.locator("#head").getByText(PAYLOADS[1]!, { exact: true }).waitFor();
        await page.goto(
          `${rw.base}/${hashOf("ns", xss, "diff")}?from=${encodeURIComponent(PAYLOADS[1]!)}`,
        );
        await page.waitForSelector("#changed");
        assert.equal(
          await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
          undefined,
        );
        assert.equal(await page.locator("iframe, img, svg, script:not([src])").count(), 0);
        assert.deepEqual(watch, { dialogs: [], errors: [] });
      } finally {
        await close();
      }
    });

    test(`ui ${b}: traversal paths get 404`, async () => {
      const { ro } = uis.get(b)!;
      for (
        const path of [
          "/../cli.ts",
          "/%2e%2e/deno.json",
          "/ui/../app.js",
          "/..%2f..%2fetc%2fpasswd",
        ]
      ) {
        assert.equal(
          (await http(ro.port, path, { headers: { cookie: ro.cookie } })).status,
          404,
          path,
        );
      }
    });
  }
}

/** What the tests use of the page's globals (functions run in the page; no DOM types here). */
interface PageGlobals {
  location: { hash: string };
  document: {
    querySelectorAll(
      selector: string,
    ): { length: number; forEach(f: (e: { open: boolean }) => void): void };
  };
}

/** What the tests read of an element inside the page (the test files have no DOM types). */
interface DomLike {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelector(selector: string): DomLike | null;
}

/** Text nodes directly in <main> (a stray "null" or "undefined" from building the page). */
function strayText(page: Page): Promise<number> {
  return page.locator("main").evaluate((main) =>
    [...(main as unknown as { childNodes: { nodeType: number }[] }).childNodes]
      .filter((n) => n.nodeType === 3).length
  );
}

function keysOf(rows: unknown[]): (string | undefined)[] {
  return rows.map((r) => (r as DomLike).dataset.key);
}

/** The status of a restore POST sent by the page itself. */
function postRestore(page: Page, ns: string): Promise<number> {
  return page.evaluate(async (ns) => {
    const r = await fetch("/api/restore", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ns, checkpoint: "good" }),
    });
    return r.status;
  }, ns);
}

/** Serves a page on another port that tries to restore through the signed-in browser. */
async function fromOtherOrigin(page: Page, ui: UiProcess, ns: string): Promise<void> {
  const body = JSON.stringify({ ns, checkpoint: "good" });
  const target = `${ui.base}/api/restore`;
  const html = `<!doctype html><form id=f method=POST action="${target}" enctype="text/plain">
<input name='${body.slice(0, -1)},"x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)}, { method: "POST", mode: "no-cors", credentials: "include",
  headers: { "content-type": "text/plain" }, body: ${JSON.stringify(body)} })
  .finally(() => { document.title = "sent"; document.getElementById("f").submit(); });
</script>`;
  const evil = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(html);
  });
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
  try {
    const port = (evil.address() as AddressInfo).port;
    const posted = page.waitForResponse((r) =>
      r.url() === target && r.request().method() === "POST"
    );
    await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal((await posted).status(), 403);
  } finally {
    await new Promise<void>((resolve) => evil.close(() => resolve()));
  }
}
