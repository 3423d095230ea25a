// End-to-end test of the web UI in a real browser: playwright-core driving Chromium headless
// against a running `doppel demo` (started by crates/cli/tests/ui_e2e.rs, which passes the
// address and the admin token). Every step checks what a user would see (the Security and
// Network views against the numbers of their API routes); any console error
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

async function shoot(name, fullPage = false) {
  for (const theme of ["dark", "light"]) {
    await page.evaluate((t) => {
      localStorage.setItem("doppel.theme", t);
      document.documentElement.dataset.theme = t;
      window.dispatchEvent(new Event("doppel-theme"));
    }, theme);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, `${name}-${theme}.png`), fullPage });
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

  await run("early_warning", async () => {
    // Shown when the server offers predictions.
    const doc = await (await fetch(url + "/api/openapi.json")).json();
    results.early_warning = Boolean(doc.paths["/api/predictions"]);
    if (!results.early_warning) return;
    await page.goto(url + "/#/overview");
    await page.waitForSelector("#early-warning h2:text('Early warning')", { timeout: 30_000 });
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

  await run("security", async () => {
    await page.goto(url + "/#/security");
    await page.waitForSelector("#sec-paths-table, #sec-paths .badge", { timeout: 60_000 });
    const attack = await apiGet("/api/security/attack");
    const rows = await page.locator("#sec-paths-table tbody tr").count();
    check(rows === attack.paths.length, `security lists ${rows} paths, the API ${attack.paths.length}`);
    check(attack.paths.length > 0, "security: the demo twin has no attack path");
    // The graph: every host a path crosses, the start and each reachable target.
    const hosts = new Set(attack.paths.flatMap((p) => p.steps.map((s) => s.host)));
    const drawnHosts = Number(await page.getAttribute("#sec-cy", "data-hosts"));
    check(drawnHosts === hosts.size, `security draws ${drawnHosts} hosts, the paths cross ${hosts.size}`);
    const targets = new Set(attack.paths.map((p) => p.target));
    const drawn = Number(await page.getAttribute("#sec-cy", "data-nodes"));
    check(drawn === hosts.size + targets.size + 1, `security draws ${drawn} nodes, expected ${hosts.size + targets.size + 1}`);
    // The most likely path is selected, its steps shown with MITRE ids.
    const selected = await page.getAttribute("#sec-paths-table tr[aria-selected=true]", "data-path");
    check(Number(selected) === attack.most_likely, `security selects path ${selected}, the most likely is ${attack.most_likely}`);
    const techniques = await page.locator("#sec-steps code").allTextContents();
    const expected = attack.paths[attack.most_likely].steps.filter((s) => s.technique).map((s) => s.technique);
    check(JSON.stringify(techniques) === JSON.stringify(expected), `security steps show ${techniques}, the API ${expected}`);
    const fixes = await page.locator("#sec-fixes-table tbody tr").count();
    check(fixes === attack.single_fixes.length, `security ranks ${fixes} fixes, the API ${attack.single_fixes.length}`);
    const p = await page.textContent("#sec-p-compromise .stat-value");
    check(p === `${(attack.simulation.p_compromise * 100).toFixed(1)} %`, `security shows p(compromise) ${p}, the API ${attack.simulation.p_compromise}`);
    results.security_paths = rows;
    results.security_fixes = fixes;
    results.security_p_compromise = attack.simulation.p_compromise;
    // Another path, chosen with the keyboard.
    if (rows > 1) {
      await page.focus("#sec-paths-table tbody tr:nth-child(2) button");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#sec-paths-table tr[data-path='1'][aria-selected=true]");
      await page.click("#sec-paths-table tbody tr:nth-child(1) button");
    }
    // A flow the demo's firewall denies, with the rule that decides.
    await page.fill("#reach-src", "internet");
    await page.fill("#reach-dst", "pg-primary");
    await page.fill("#reach-port", "5432");
    await page.click("#reach-run");
    await page.waitForSelector("#reach-verdict");
    const reach = await apiGet("/api/security/reach?src=internet&dst=pg-primary&port=5432");
    const verdict = await page.textContent("#reach-verdict .badge");
    check(verdict === reach.verdict && verdict === "denied", `reach: the page says ${verdict}, the API ${reach.verdict}`);
    results.security_reach = reach.verdict;
    await page.fill("#reach-src", "web-a-1");
    await page.fill("#reach-dst", "catalog");
    await page.fill("#reach-port", "");
    await page.click("#reach-run");
    await page.waitForFunction(() => !/pg-primary/.test(document.querySelector("#reach-verdict")?.textContent ?? "pg-primary"));
    // The blast radius of the first host the most likely path takes over.
    const first = attack.paths[attack.most_likely].steps[0].host;
    await page.fill("#blast-host", first);
    await page.click("#blast-run");
    await page.waitForSelector("#blast-hosts");
    const blast = await apiGet(`/api/security/blast?host=${encodeURIComponent(first)}`);
    const reached = await page.textContent("#blast-hosts .stat-value");
    const others = blast.root.length + blast.user.length - 1;
    check(reached === String(others), `blast radius of ${first}: the page says ${reached} other hosts, the API ${others}`);
    results.security_blast_hosts = others;
    // A what-if (EDR on the app tier) simulated beside the baseline.
    await page.fill("#sec-what-if", "edr:tier=app");
    await page.click("#sec-run");
    await page.waitForSelector("#sec-sim-table th:text('Baseline')", { timeout: 60_000 });
    const edr = await apiGet("/api/security/attack?what_if=edr:tier=app");
    const cells = await page.locator("#sec-sim-table tbody tr:first-child td").allTextContents();
    const shownPct = (v) => `${(v * 100).toFixed(1)} %`;
    check(
      cells[1] === shownPct(edr.simulation.baseline.p_compromise) && cells[2] === shownPct(edr.simulation.p_compromise),
      `security what-if: shown ${cells.join(" | ")}, the API ${edr.simulation.baseline.p_compromise} and ${edr.simulation.p_compromise}`,
    );
    results.security_edr_p_compromise = edr.simulation.p_compromise;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(300);
    await shoot("security", true);
  });

  await run("network", async () => {
    await page.goto(url + "/#/network");
    await page.waitForSelector("#net-failures-table", { timeout: 60_000 });
    const net = await apiGet("/api/network/route?method=lp&objective=mlu");
    const links = await page.locator("#net-links-table tbody tr").count();
    check(links === net.after.links.length, `network lists ${links} arcs, the API ${net.after.links.length}`);
    for (const id of ["#net-before", "#net-after"]) {
      const edges = Number(await page.getAttribute(id, "data-edges"));
      const nodes = Number(await page.getAttribute(id, "data-nodes"));
      check(edges === net.after.links.length && nodes === net.routers.length, `${id}: ${nodes} routers and ${edges} arcs drawn, the API ${net.routers.length} and ${net.after.links.length}`);
    }
    const failures = await page.locator("#net-failures-table tbody tr").count();
    check(failures === net.failures.length && failures === net.links.length, `network: ${failures} failure rows, the API ${net.failures.length}, links ${net.links.length}`);
    const firstFailed = await page.textContent("#net-failures-table tbody tr:first-child td:first-child");
    check(firstFailed === net.failures[0].failed, `network: the worst failure shown is ${firstFailed}, the API's ${net.failures[0].failed}`);
    const mluAfter = await page.textContent("#net-mlu-after .stat-value");
    check(mluAfter === `${(net.mlu_after * 100).toFixed(2)} %`, `network: MLU after shown ${mluAfter}, the API ${net.mlu_after}`);
    check(net.mlu_after <= net.mlu_before + 1e-12, `network: the LP (${net.mlu_after}) is worse than ECMP (${net.mlu_before})`);
    results.network_links = links;
    results.network_mlu_before = net.mlu_before;
    results.network_mlu_after = net.mlu_after;
    await shoot("network", true);
    // The IGP weight search.
    await page.selectOption("#net-method", "igp");
    await page.click("#net-run");
    await page.waitForFunction(() => /igp/.test(document.querySelector("#net-mlu-after .stat-label")?.textContent ?? ""), null, { timeout: 60_000 });
    const igp = await apiGet("/api/network/route?method=igp&objective=mlu");
    const shown = await page.textContent("#net-mlu-after .stat-value");
    check(shown === `${(igp.mlu_after * 100).toFixed(2)} %`, `network igp: shown ${shown}, the API ${igp.mlu_after}`);
    results.network_igp_mlu = igp.mlu_after;
    await page.waitForTimeout(300);
    await shoot("network-igp", true);
    // The flows the demo's routers report, routed live; the IGP search held to one change.
    for (let i = 0; i < 60; i++) {
      const r = await fetch(url + "/api/network/route?traffic=live", { headers: { Authorization: `Bearer ${token}` } });
      if (r.ok) break;
      check(r.status === 409, `network live: ${r.status} while waiting for flows`);
      await page.waitForTimeout(1000);
    }
    await page.selectOption("#net-traffic", "live");
    await page.fill("#net-max-changes", "1");
    await page.click("#net-run");
    await page.waitForFunction(() => /flows observed/.test(document.querySelector("#net-status")?.textContent ?? ""), null, { timeout: 60_000 });
    const reweighted = new Set(await page.locator("#net-weights tbody tr td:first-child").allTextContents());
    check(reweighted.size <= 1, `network live igp max_changes=1: ${reweighted.size} links reweighted`);
    const live = await apiGet("/api/network/route?traffic=live&method=igp&max_changes=1");
    check(live.traffic.source === "live" && live.traffic.flows.length > 0, `network live: traffic ${JSON.stringify(live.traffic.source)}`);
    results.network_live_flows = live.traffic.flows.length;
    results.network_live_igp_mlu = live.mlu_after;
    await shoot("network-live", true);
  });

  await run("cohorts", async () => {
    await page.goto(url + "/#/cohorts");
    // The demo learns its cohorts at start and simulates them: wait for the cards.
    await page.waitForSelector("#cohort-cards", { timeout: 120_000 });
    const rep = await apiGet("/api/cohorts/report");
    const cards = await page.locator("#cohort-cards article.cohort").count();
    check(cards === rep.report.cohorts.length && cards === rep.cohorts.length, `cohorts: ${cards} cards, the API ${rep.report.cohorts.length} simulated and ${rep.cohorts.length} learned`);
    const first = await page.getAttribute("#cohort-cards article.cohort:first-child", "data-cohort");
    check(first === rep.report.cohorts[0].name, `cohorts: first card ${first}, the API's worst ${rep.report.cohorts[0].name}`);
    const rows = await page.locator("#cohort-whatifs tbody tr").count();
    check(rows === rep.report.what_ifs.length, `cohorts: ${rows} what-ifs shown, the API ${rep.report.what_ifs.length}`);
    const answer = await page.textContent("#cohorts-answer");
    check(answer.includes(rep.report.cohorts[0].name), `cohorts: the answer does not name the worst off, ${rep.report.cohorts[0].name}: ${answer}`);
    results.cohorts = cards;
    results.cohort_what_ifs = rows;
    await shoot("cohorts", true);
  });

  await run("keyboard", async () => {
    await page.goto(url + "/#/overview");
    await page.waitForSelector("nav a[aria-current=page]");
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    let reached = false;
    for (let i = 0; i < 8 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.textContent === "Topology" && document.activeElement.tagName === "A");
    }
    check(reached, "the Topology link cannot be reached with the keyboard");
    await page.keyboard.press("Enter");
    await page.waitForSelector("main h1:text('Topology')");
  });

  await run("scenario", async () => {
    await page.goto(url + "/#/scenarios");
    await page.waitForSelector("#sc-yaml");
    await page.fill("#sc-name", "zone-a-down");
    await page.fill("#sc-duration", "150");
    await page.fill("#sc-warmup", "20");
    await page.selectOption("#sc-fault", "kill");
    await page.selectOption("#sc-kill-kind", "zone");
    await page.waitForFunction(() => document.querySelectorAll("#sc-target option").length > 0);
    await page.selectOption("#sc-target", "eu-west-1a");
    await page.fill("#sc-fault-at", "50");
    const yaml = await page.inputValue("#sc-yaml");
    check(/kill: \{zone: "eu-west-1a"\}/.test(yaml), `scenario: the form wrote\n${yaml}`);
    await shoot("scenario-builder");
    await page.click("#sc-run");
    await page.waitForSelector("#run-progress");
    const t0 = Date.now();
    await page.waitForSelector("#run-summary", { timeout: 120_000 });
    results.scenario_run_ms = Date.now() - t0;
    const progress = await page.getAttribute("#run-progress", "aria-valuenow");
    check(progress === "100", `scenario: progress ends at ${progress}`);
    const summary = await page.textContent("#run-summary");
    check(/broken/.test(summary ?? ""), `scenario: the verdict says “${summary}”`);
    const row = page.locator("#run-verdict tr", { hasText: "checkout-availability" });
    const cells = await row.locator("td").allTextContents();
    check(cells[3] === "broken" && cells[5] === "met", `scenario: checkout-availability scenario/baseline: ${cells.join(" | ")}`);
    results.scenario_summary = summary;
    const charts = await page.$$eval("#run-charts figure", (fs) => fs.map((f) => f.getAttribute("data-points")));
    check(charts.length === 4 && charts.every((p) => p.split(",").every((n) => Number(n) > 100)), `scenario charts: ${charts}`);
    results.scenario_chart_points = charts[0];
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#run-report")]);
    const file = download.suggestedFilename();
    check(/^doppel-run-\d+\.html$/.test(file), `report file ${file}`);
    const path = await download.path();
    const html = readFileSync(path, "utf8");
    check(html.includes("checkout-availability") && html.includes("<svg"), "the report lacks the SLO or its charts");
    results.report_bytes = html.length;
    await shoot("scenario-run");
    // A second run (steady load) and the comparison of the two.
    await page.goto(url + "/#/scenarios");
    await page.waitForSelector("#sc-yaml");
    await page.fill("#sc-name", "steady");
    await page.fill("#sc-duration", "150");
    await page.click("#sc-run");
    await page.waitForSelector("#run-summary", { timeout: 120_000 });
    await page.goto(url + "/#/scenarios");
    await page.waitForSelector("input[aria-label^='Select run']:not([disabled])");
    const boxes = page.locator("input[aria-label^='Select run']:not([disabled])");
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.click("#sc-compare");
    await page.waitForFunction(() => / vs run #/.test(document.querySelector("main h1")?.textContent ?? ""));
    await page.waitForSelector("figure[data-points]");
    await page.waitForTimeout(300);
    await shoot("scenario-compare");
  });

  await run("service", async () => {
    await page.goto(url + "/#/service/frontend");
    await page.waitForSelector("main h1:text('frontend')");
    // Live and predicted series both have points.
    const both = async () =>
      page.evaluate(() => {
        const f = document.querySelector("figure[aria-label='Latency: production vs twin']");
        const pts = (f?.getAttribute("data-points") ?? "0,0").split(",").map(Number);
        return pts;
      });
    let pts = [0, 0];
    for (let i = 0; i < 60 && !(pts[0] > 0 && pts[1] > 0); i++) {
      await page.waitForTimeout(1000);
      pts = await both();
    }
    check(pts[0] > 0 && pts[1] > 0, `service: live ${pts[0]} and predicted ${pts[1]} latency points`);
    results.service_live_points = pts[0];
    results.service_predicted_points = pts[1];
    if (results.early_warning) {
      // The forecast panel: the observed series at least (a forecast needs enough history).
      await page.waitForFunction(
        () => Number((document.querySelector("figure[aria-label='Forecast']")?.getAttribute("data-points") ?? "0").split(",")[0]) > 0,
        null,
        { timeout: 60_000 },
      );
      results.service_forecast_points = await page.getAttribute("figure[aria-label='Forecast']", "data-points");
    }
    const deps = await page.locator("text=Called by (upstream").count();
    check(deps === 1, "service: no dependencies section");
    await page.waitForTimeout(300);
    await shoot("service");
  });

  await run("history", async () => {
    await page.goto(url + "/#/history");
    await page.waitForSelector("#history-detail h3");
    await shoot("history");
  });

  await run("admin", async () => {
    await page.goto(url + "/#/admin");
    await page.waitForSelector("text=Create token");
    await page.waitForSelector("#adm-token-user option", { state: "attached" });
    await page.fill("#adm-token-label", "e2e");
    await page.click("text=Create token");
    const t = await page.textContent("#adm-new-token");
    check(/^dpl_[0-9a-f]{64}$/.test(t ?? ""), `admin: new token “${t}”`);
    await page.waitForSelector("td:text('e2e')");
    await shoot("admin");
  });

  await run("overview_after_runs", async () => {
    await page.goto(url + "/#/overview");
    await page.waitForSelector(".slo-grid .slo");
    if (results.early_warning) await page.waitForSelector("#early-warning h2");
    await page.waitForTimeout(300);
    await shoot("overview-after-runs");
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
      // Frames drawn while panning: the page keeps animating (a texture of the graph moves).
      await page.evaluate(() => {
        window.__frames = [];
        const tick = (t) => {
          window.__frames.push(t);
          if (window.__frames.length < 10000 && !window.__stopFrames) requestAnimationFrame(tick);
        };
        window.__stopFrames = false;
        requestAnimationFrame(tick);
      });
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 200, box.y + box.height / 2 + 100, { steps: 30 });
      await page.mouse.up();
      results.big_zoom_pan_ms = Date.now() - t0;
      const frames = await page.evaluate(() => {
        window.__stopFrames = true;
        const f = window.__frames;
        const gaps = f.slice(1).map((t, i) => t - f[i]).sort((a, b) => a - b);
        return { n: f.length, median: gaps[Math.floor(gaps.length / 2)] ?? 0, p95: gaps[Math.floor(gaps.length * 0.95)] ?? 0 };
      });
      results.big_pan_frames = frames.n;
      results.big_pan_frame_median_ms = Math.round(frames.median);
      results.big_pan_frame_p95_ms = Math.round(frames.p95);
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
