// End-to-end test of the web UI in a real browser: playwright-core driving Chromium headless
// against a running `doppel demo` (started by crates/cli/tests/ui_e2e.rs, which passes the
// address and the admin token). Every step checks what a user would see; any console error
// fails the run. Screenshots of each view, dark and light, go to DOPPEL_SHOTS.
//
// Environment: DOPPEL_URL, DOPPEL_TOKEN, DOPPEL_SHOTS (directory), CHROMIUM (executable,
// default /usr/bin/chromium), DOPPEL_BIG_TWIN (optional: a YAML twin of about 2,000 nodes,
// imported at the end to time the first draw). Prints one JSON line of measurements; exits 1
// with the failed step's message otherwise.

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const url = process.env.DOPPEL_URL ?? "http://127.0.0.1:7700";
const token = process.env.DOPPEL_TOKEN ?? "";
const shots = process.env.DOPPEL_SHOTS ?? "ui-e2e-shots";
const exe = process.env.CHROMIUM ?? "/usr/bin/chromium";
const big = process.env.DOPPEL_BIG_TWIN;
const only = (process.env.DOPPEL_E2E_STEPS ?? "").split(",").filter(Boolean);
mkdirSync(shots, { recursive: true });

const results = {};
const consoleErrors = [];
let step = "start";

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function apiGet(path, tok = token) {
  const r = await fetch(url + path, { headers: { Authorization: `Bearer ${tok}` } });
  check(r.ok, `GET ${path}: ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
page.on("console", (m) => {
  if (m.type() === "error") consoleErrors.push(`[${step}] ${m.text()}`);
});
page.on("pageerror", (e) => consoleErrors.push(`[${step}] page error: ${e.message}`));

async function shoot(name) {
  for (const theme of ["dark", "light"]) {
    await page.evaluate((t) => {
      localStorage.setItem("doppel.theme", t);
      document.documentElement.dataset.theme = t;
      window.dispatchEvent(new Event("doppel-theme"));
    }, theme);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, `${name}-${theme}.png`) });
  }
}

async function run(name, f) {
  if (only.length && !only.includes(name)) return;
  step = name;
  const t0 = Date.now();
  await f();
  results[`${name}_ms`] = Date.now() - t0;
}

async function login(tok) {
  await page.goto(url + "/");
  await page.fill("#token", tok);
  await page.click("button[type=submit]");
}

try {
  await run("bad_token", async () => {
    await page.goto(url + "/");
    await page.evaluate(() => sessionStorage.clear());
    await login("dpl_not_a_real_token");
    const err = page.locator("#login-error");
    await err.waitFor({ state: "visible" });
    const text = await err.textContent();
    check(/not accepted/.test(text ?? ""), `bad token: the login screen said “${text}”`);
    results.bad_token_message = text;
    await shoot("login-error");
  });
  // The failed attempt above logs a 401 in the console, as the browser does for any failed
  // request: that one is expected.
  const expected401 = consoleErrors.filter((e) => /401/.test(e)).length;
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !/401/.test(e)));
  results.expected_401_logged = expected401;

  await run("login", async () => {
    await login(token);
    await page.waitForSelector("nav a[aria-current=page]");
    const title = await page.textContent("main h1");
    check(title === "Overview", `after login the page is “${title}”, not Overview`);
  });

  await run("overview", async () => {
    await page.goto(url + "/#/overview");
    await page.waitForSelector("text=Drift: twin vs production");
    // Drift rows appear once the demo has production data.
    await page.waitForSelector("main table a[href^='#/service/']", { timeout: 60_000 });
    const rows = await page.locator("main table a[href^='#/service/']").count();
    const drift = await apiGet("/api/drift");
    check(rows === drift.services.length, `overview lists ${rows} services' drift, the API ${drift.services.length}`);
    results.overview_drift_rows = rows;
    await shoot("overview");
  });

  await run("topology", async () => {
    await page.goto(url + "/#/topology");
    await page.waitForFunction(() => document.querySelector("#cy")?.dataset.firstDrawMs !== undefined, null, { timeout: 30_000 });
    const shown = Number(await page.getAttribute("#cy", "data-nodes"));
    const graph = await apiGet("/api/twin/graph");
    const twin = (await apiGet("/api/twin")).twin;
    const services = Object.keys(twin.services).length;
    const hosts = Object.keys(twin.hosts ?? {}).length;
    check(shown === graph.nodes.length, `topology draws ${shown} nodes, /api/twin/graph has ${graph.nodes.length}`);
    check(graph.counts.service === services, `graph has ${graph.counts.service} services, the twin ${services}`);
    check(graph.counts.host === hosts, `graph has ${graph.counts.host} hosts, the twin ${hosts}`);
    results.topology_nodes = shown;
    results.topology_counts = graph.counts;
    results.topology_first_draw_ms = Number(await page.getAttribute("#cy", "data-first-draw-ms"));
    // Search, then details.
    await page.fill("#topo-search", "checkout");
    await page.press("#topo-search", "Enter");
    await page.waitForSelector("#topo-details h2:text('checkout')");
    await page.selectOption("#topo-color", "utilization");
    await page.selectOption("#topo-group", "zone");
    await page.waitForTimeout(500);
    await shoot("topology");
    await page.click("text=Collapse all");
    await page.waitForTimeout(300);
    await shoot("topology-collapsed");
    await page.click("text=Expand all");
  });

  if (big) {
    await run("big_twin", async () => {
      const body = readFileSync(big, "utf8");
      const r = await fetch(url + "/api/twin?reason=e2e%3A%202000-node%20twin", {
        method: "PUT",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/yaml" },
        body,
      });
      check(r.ok, `importing the big twin: ${r.status} ${await r.text()}`);
      const graph = await apiGet("/api/twin/graph");
      await page.goto(url + "/#/overview");
      await page.goto(url + "/#/topology");
      await page.waitForFunction(() => document.querySelector("#cy")?.dataset.firstDrawMs !== undefined, null, { timeout: 60_000 });
      const shown = Number(await page.getAttribute("#cy", "data-nodes"));
      check(shown === graph.nodes.length, `big twin: ${shown} nodes drawn, ${graph.nodes.length} in the graph`);
      results.big_nodes = shown;
      results.big_edges = graph.edges.length;
      results.big_first_draw_ms = Number(await page.getAttribute("#cy", "data-first-draw-ms"));
      results.big_build_ms = Number(await page.getAttribute("#cy", "data-build-ms"));
      // Still usable: zoom and pan, group and collapse, each answered promptly.
      const t0 = Date.now();
      const box = await page.locator("#cy").boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      for (let i = 0; i < 5; i++) await page.mouse.wheel(0, -200);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 200, box.y + box.height / 2 + 100, { steps: 10 });
      await page.mouse.up();
      results.big_zoom_pan_ms = Date.now() - t0;
      const t1 = Date.now();
      await page.selectOption("#topo-group", "zone");
      await page.click("text=Collapse all");
      await page.waitForTimeout(50);
      results.big_group_collapse_ms = Date.now() - t1;
      const after = Number(await page.evaluate(() => window.__doppelTopology?.nodes ?? 0));
      check(after > 0, "big twin: nothing left after collapsing");
      await page.click("text=Expand all");
      await page.selectOption("#topo-group", "none");
      await page.click("text=Fit");
      await page.waitForTimeout(300);
      await shoot("topology-2000");
    });
  }

  step = "end";
  check(consoleErrors.length === 0, `console errors:\n${consoleErrors.join("\n")}`);
  results.console_errors = 0;
  console.log(JSON.stringify(results));
  await browser.close();
} catch (e) {
  try {
    await page.screenshot({ path: join(shots, `failed-${step}.png`) });
  } catch {
    /* the page may be gone */
  }
  console.error(`step ${step} failed: ${e.message}`);
  if (consoleErrors.length) console.error(`console errors:\n${consoleErrors.join("\n")}`);
  console.log(JSON.stringify(results));
  await browser.close();
  process.exit(1);
}
