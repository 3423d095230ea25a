// Scenarios: build a what-if from forms (load shape, fault, rollout) or paste YAML in the
// scenario format, run it (beside its baseline, same seed) with a live progress bar, read
// the SLO verdicts and the timelines, download the HTML report; past runs are listed and
// any two can be compared.

import { api, ApiError, post, raw, type Run, type SimReport, type SloVerdict, type Topology } from "../api";
import { Chart } from "../charts";
import { badge, h, panel, put, table } from "../dom";
import { ms, num, when } from "../format";
import { runName, runVerdict } from "./overview";

// The example scenarios of the repository, bundled at build time.
const EXAMPLES = import.meta.glob("../../../examples/scenarios/*.yaml", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

type Sides = { baseline: SimReport | null; scenario: SimReport };

export function sidesOf(run: Run): Sides | null {
  const r = run.result as Record<string, unknown> | null;
  if (!r) return null;
  if (r.scenario && typeof r.scenario === "object" && "timeline" in (r.scenario as object)) {
    return { baseline: (r.baseline as SimReport) ?? null, scenario: r.scenario as SimReport };
  }
  if ("timeline" in r) return { baseline: null, scenario: r as unknown as SimReport };
  return null;
}

export function scenariosView(root: HTMLElement, args: string[]): () => void {
  if (args[0] === "run" && args[1]) return runView(root, Number(args[1]));
  if (args[0] === "compare" && args[1] && args[2]) return compareView(root, Number(args[1]), Number(args[2]));
  return builderView(root);
}

// --- Builder -------------------------------------------------------------------------

function field(label: string, input: HTMLElement): HTMLElement {
  return h("label", {}, label, input);
}

function num_input(id: string, value: number, min = 0): HTMLInputElement {
  return h("input", { id, type: "number", value, min, step: "any" });
}

function select(id: string, options: [string, string][]): HTMLSelectElement {
  return h("select", { id }, options.map(([v, t]) => h("option", { value: v }, t)));
}

const q = (s: string) => JSON.stringify(s);

function builderView(root: HTMLElement): () => void {
  const err = h("p", { class: "error", role: "alert", id: "scenario-error" });
  const name = h("input", { id: "sc-name", type: "text", value: "what-if" });
  const duration = num_input("sc-duration", 300, 10);
  const warmup = num_input("sc-warmup", 30);
  const seed = num_input("sc-seed", 1, 1);
  const reps = num_input("sc-reps", 1, 1);
  const load = select("sc-load", [["none", "Steady load"], ["step", "Step"], ["spike", "Spike"], ["ramp", "Ramp"]]);
  const loadAt = num_input("sc-load-at", 60);
  const loadFor = num_input("sc-load-for", 60);
  const loadFactor = num_input("sc-load-factor", 2);
  const fault = select("sc-fault", [["none", "No fault"], ["kill", "Kill"], ["slow", "Slow down"], ["partition", "Partition zones"]]);
  const killKind = select("sc-kill-kind", [["zone", "zone"], ["host", "host"], ["service", "service"], ["instance", "instance"]]);
  const target = h("select", { id: "sc-target" });
  const target2 = h("select", { id: "sc-target2" });
  const faultAt = num_input("sc-fault-at", 120);
  const faultFor = num_input("sc-fault-for", 60);
  const restart = num_input("sc-restart", 0);
  const slowFactor = num_input("sc-slow-factor", 5, 1);
  const rollout = select("sc-rollout", [["none", "No rollout"], ["rolling", "Rolling update"], ["canary", "Canary with analysis"]]);
  const rolloutService = h("select", { id: "sc-rollout-service" });
  const rolloutAt = num_input("sc-rollout-at", 90);
  const rolloutLatency = num_input("sc-rollout-latency", 1.5, 0.1);
  const yaml = h("textarea", { id: "sc-yaml", rows: 18, spellcheck: "false", "aria-label": "Scenario YAML" });
  const handNote = h("p", { class: "muted small", role: "status" });
  const example = select("sc-example", [["", "Start from an example…"], ...Object.keys(EXAMPLES).map((k) => [k, k.split("/").pop()!.replace(/\.yaml$/, "")] as [string, string])]);
  const runBtn = h("button", { type: "submit", class: "primary", id: "sc-run" }, "Run scenario");
  const runs = h("div", {}, "Loading…");
  let edited = false;
  let graph: Topology | null = null;

  const names = (kind: string) => (graph ? graph.nodes.filter((n) => n.kind === kind).map((n) => n.name) : []);
  function fill(sel: HTMLSelectElement, items: string[]): void {
    const keep = sel.value;
    put(sel, items.map((s) => h("option", { value: s }, s)));
    if (items.includes(keep)) sel.value = keep;
  }
  function targets(): void {
    const kind = fault.value === "slow" ? "service" : fault.value === "partition" ? "zone" : killKind.value;
    const zones = graph ? graph.zones.map(([z]) => z) : [];
    fill(target, kind === "zone" ? zones : names(kind));
    fill(target2, zones);
    if (fault.value === "partition" && target2.options.length > 1 && target2.value === target.value) target2.selectedIndex = 1;
    fill(rolloutService, names("service"));
  }

  function build(): string {
    const lines = ["scenario: 1", `name: ${q(name.value || "what-if")}`, `duration: ${Number(duration.value)}s`, `warmup: ${Number(warmup.value)}s`];
    const f = Number(loadFactor.value);
    if (load.value === "step") lines.push("load:", `  - {step: {at: ${loadAt.value}s, factor: ${f}}}`);
    if (load.value === "spike") lines.push("load:", `  - {spike: {at: ${loadAt.value}s, for: ${loadFor.value}s, factor: ${f}}}`);
    if (load.value === "ramp") lines.push("load:", `  - {ramp: {from: ${loadAt.value}s, to: ${Number(loadAt.value) + Number(loadFor.value)}s, factor: ${f}}}`);
    const events: string[] = [];
    if (fault.value === "kill" && target.value) {
      const r = Number(restart.value) > 0 ? `, restart_after: ${restart.value}s` : "";
      events.push(`  - {at: ${faultAt.value}s, kill: {${killKind.value}: ${q(target.value)}${r}}, label: ${q(`${target.value} down`)}}`);
    }
    if (fault.value === "slow" && target.value) {
      events.push(`  - {at: ${faultAt.value}s, for: ${faultFor.value}s, slow: {service: ${q(target.value)}, factor: ${Number(slowFactor.value)}}, label: ${q(`${target.value} ${slowFactor.value}x slower`)}}`);
    }
    if (fault.value === "partition" && target.value && target2.value) {
      events.push(`  - {at: ${faultAt.value}s, for: ${faultFor.value}s, partition: {between: [${q(`zone:${target.value}`)}, ${q(`zone:${target2.value}`)}]}, label: ${q(`${target.value} | ${target2.value}`)}}`);
    }
    if (rollout.value !== "none" && rolloutService.value) {
      const how = rollout.value === "rolling" ? "rolling: {max_surge: 1, max_unavailable: 0}" : "canary: {weight: 20%, replicas: 1, analysis: {after: 60s}}";
      events.push(`  - {at: ${rolloutAt.value}s, deploy: {service: ${q(rolloutService.value)}, version: {latency: ${Number(rolloutLatency.value)}}, startup: 10s, ${how}}, label: ${q(`deploy ${rolloutService.value}`)}}`);
    }
    if (events.length) lines.push("events:", ...events);
    return lines.join("\n") + "\n";
  }
  function update(): void {
    targets();
    // Show only the fields the choices use.
    const show = (el: HTMLElement, on: boolean) => ((el.parentElement as HTMLElement).hidden = !on);
    show(loadAt, load.value !== "none");
    show(loadFor, load.value === "spike" || load.value === "ramp");
    show(loadFactor, load.value !== "none");
    show(killKind, fault.value === "kill");
    show(target, fault.value !== "none");
    show(target2, fault.value === "partition");
    show(faultAt, fault.value !== "none");
    show(faultFor, fault.value === "slow" || fault.value === "partition");
    show(restart, fault.value === "kill");
    show(slowFactor, fault.value === "slow");
    show(rolloutService, rollout.value !== "none");
    show(rolloutAt, rollout.value !== "none");
    show(rolloutLatency, rollout.value !== "none");
    if (!edited) yaml.value = build();
  }
  const form = h(
    "form",
    {
      class: "panel",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        err.textContent = "";
        runBtn.disabled = true;
        try {
          const title = (yaml.value.match(/^name:\s*"?([^"\n]+)"?/m)?.[1] ?? name.value).trim();
          const run = await post<Run>("/api/runs", {
            kind: "scenario",
            params: { scenario: yaml.value, name: title, seed: Number(seed.value), replications: Number(reps.value), duration: Number(duration.value), warmup: Number(warmup.value) },
          });
          location.hash = `#/scenarios/run/${run.id}`;
        } catch (e) {
          const x = e as ApiError;
          err.textContent = x.status === 403 ? "Running scenarios needs the operator role." : x.message;
        } finally {
          runBtn.disabled = false;
        }
      },
    },
    h("h2", {}, "New scenario"),
    h("div", { class: "form-grid" }, field("Name", name), field("Duration (s)", duration), field("Warm-up (s)", warmup), field("Seed", seed), field("Replications", reps)),
    h("h3", {}, "Load"),
    h("div", { class: "form-grid" }, field("Shape", load), field("At (s)", loadAt), field("For (s)", loadFor), field("Factor", loadFactor)),
    h("h3", {}, "Fault"),
    h("div", { class: "form-grid" }, field("Fault", fault), field("What", killKind), field("Target", target), field("And zone", target2), field("At (s)", faultAt), field("For (s)", faultFor), field("Restart after (s, 0 = never)", restart), field("Slower by", slowFactor)),
    h("h3", {}, "Rollout"),
    h("div", { class: "form-grid" }, field("Rollout", rollout), field("Service", rolloutService), field("At (s)", rolloutAt), field("New version's latency ×", rolloutLatency)),
    h("h3", {}, h("label", { for: "sc-yaml" }, "Scenario (YAML, editable; see docs/SCENARIOS.md)")),
    h("div", { class: "row" }, example),
    yaml,
    handNote,
    err,
    h("div", { class: "row" }, runBtn),
  );
  const formInputs = [name, duration, warmup, load, loadAt, loadFor, loadFactor, fault, killKind, target, target2, faultAt, faultFor, restart, slowFactor, rollout, rolloutService, rolloutAt, rolloutLatency];
  formInputs.forEach((el) => el.addEventListener("input", () => { edited = false; put(handNote); update(); }));
  yaml.addEventListener("input", () => {
    edited = true;
    put(handNote, "Edited by hand: changing the form above writes the YAML again.");
  });
  example.addEventListener("change", () => {
    const text = EXAMPLES[example.value];
    if (!text) return;
    yaml.value = text;
    edited = true;
    put(handNote, `Example ${example.selectedOptions[0].textContent}: edit it, or change the form to start over.`);
  });

  put(root, h("div", { class: "page-head" }, h("h1", {}, "Scenarios")), h("div", { class: "grid two" }, form, panel("Runs", runs)));
  update();
  let stopped = false;
  api<Topology>("/api/twin/graph")
    .then((g) => {
      graph = g;
      if (!stopped) update();
    })
    .catch((e) => (err.textContent = `Could not read the twin: ${(e as ApiError).message}`));
  const refresh = () => listRuns(runs).catch((e) => put(runs, badge("bad", (e as ApiError).message)));
  refresh();
  const timer = window.setInterval(refresh, 5000);
  return () => {
    stopped = true;
    window.clearInterval(timer);
  };
}

async function listRuns(el: HTMLElement): Promise<void> {
  const { runs } = await api<{ runs: Run[] }>("/api/runs?limit=50");
  if (runs.length === 0) {
    put(el, h("p", { class: "muted" }, "No runs yet."));
    return;
  }
  const picked = new Set<number>(Array.from(el.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked")).map((c) => Number(c.value)));
  const compare = h("button", { type: "button", disabled: picked.size !== 2, id: "sc-compare" }, "Compare the two selected");
  const boxes = runs.map((r) =>
    h("input", {
      type: "checkbox",
      value: r.id,
      checked: picked.has(r.id),
      disabled: !sidesOf(r),
      "aria-label": `Select run ${r.id} to compare`,
      onchange: () => {
        const n = el.querySelectorAll("input[type=checkbox]:checked").length;
        compare.disabled = n !== 2;
      },
    }),
  );
  compare.addEventListener("click", () => {
    // Older run first: it is the reference the newer one is read against.
    const ids = Array.from(el.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked"))
      .map((c) => Number(c.value))
      .sort((a, b) => a - b);
    if (ids.length === 2) location.hash = `#/scenarios/compare/${ids[0]}/${ids[1]}`;
  });
  put(
    el,
    table(
      ["", "Run", "What", "Twin", "When", "Verdict"],
      runs.map((r, i) => [boxes[i], h("a", { href: `#/scenarios/run/${r.id}` }, `#${r.id}`), `${runName(r)} (${r.kind})`, `v${r.twin_version}`, when(r.created_ms), runVerdict(r)]),
    ),
    h("div", { class: "row" }, compare),
  );
}

// --- One run ---------------------------------------------------------------------------

function seriesOf(rep: SimReport, f: (b: SimReport["timeline"][number]) => number): number[] {
  return rep.timeline.map(f);
}

const errorsOf = (b: SimReport["timeline"][number]) => b.errors_rps.timeout + b.errors_rps.rejected + b.errors_rps.failed + b.errors_rps.breaker_open;
const replicasOf = (b: SimReport["timeline"][number]) => b.services.reduce((s, x) => s + x.replicas, 0);

function timelineCharts(a: SimReport, b: SimReport | null, labels: [string, string]): Chart[] {
  const marks = a.events.map((e) => ({ t: e.t, label: e.label }));
  const t = a.timeline.map((x) => x.t);
  const two = (f: (x: SimReport["timeline"][number]) => number) => (b ? [t, seriesOf(a, f), alignTo(t, b, f)] : [t, seriesOf(a, f)]);
  const series = b
    ? [{ label: labels[0], color: "series-4" }, { label: labels[1], color: "series-1", dash: true }]
    : [{ label: labels[0], color: "series-1" }];
  return [
    new Chart({ title: "Throughput", unit: "successful requests/s", time: false, series, data: two((x) => x.throughput_rps), marks }),
    new Chart({ title: "Latency p99", unit: "ms", time: false, series, data: two((x) => x.p99_ms), marks }),
    new Chart({ title: "Errors", unit: "failed requests/s", time: false, series, data: two(errorsOf), marks }),
    new Chart({ title: "Ready replicas", unit: "all services", time: false, series, data: two(replicasOf), marks, height: 160 }),
  ];
}

function alignTo(t: number[], b: SimReport, f: (x: SimReport["timeline"][number]) => number): (number | null)[] {
  const m = new Map(b.timeline.map((x) => [x.t, f(x)]));
  return t.map((x) => m.get(x) ?? null);
}

function achieved(s: SloVerdict | undefined): string {
  if (!s || s.achieved === null) return "–";
  return s.unit === "%" ? `${num(s.achieved, 3)} %` : ms(s.achieved);
}

function verdictBadge(s: SloVerdict | undefined): HTMLElement {
  if (!s) return badge("idle", "–");
  return s.met ? badge("ok", "met") : badge("bad", "broken");
}

function sloTable(a: SimReport, b: SimReport | null, labels: [string, string]): HTMLElement {
  const other = new Map((b?.slos ?? []).map((s) => [s.name, s]));
  const rows = a.slos.map((s) => {
    const o = other.get(s.name);
    const first = s.first_breach_s !== null ? `${num(s.first_breach_s, 0)} s, ${num(s.breach_seconds, 0)} s in breach` : "–";
    return b
      ? [s.name, s.objective, achieved(s), verdictBadge(s), achieved(o), verdictBadge(o), first]
      : [s.name, s.objective, achieved(s), verdictBadge(s), first];
  });
  const head = b
    ? ["SLO", "Objective", labels[0], "", labels[1], "", `First breach (${labels[0]})`]
    : ["SLO", "Objective", "Achieved", "Verdict", "First breach"];
  return a.slos.length ? table(head, rows) : h("p", { class: "muted" }, "The twin and the scenario state no SLOs.");
}

async function download(id: number, el: HTMLElement): Promise<void> {
  try {
    const r = await raw(`/api/runs/${id}/report`);
    const blob = await r.blob();
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: `doppel-run-${id}.html` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    put(el, badge("bad", `Report: ${(e as ApiError).message}`));
  }
}

function runView(root: HTMLElement, id: number): () => void {
  const title = h("h1", {}, `Run #${id}`);
  const meta = h("p", { class: "muted" });
  const bar = h("div", { style: "width:0%" });
  const progress = h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0", "aria-label": "Progress", id: "run-progress" }, bar);
  const state = h("p", { id: "run-state", role: "status" });
  const verdict = h("div", { id: "run-verdict" });
  const charts = h("div", { class: "grid two", id: "run-charts" });
  const note = h("p", { class: "small" });
  const cancel = h("button", { type: "button" }, "Cancel");
  const report = h("button", { type: "button", class: "primary", id: "run-report", hidden: true, onclick: () => download(id, note) }, "Download the HTML report");
  put(
    root,
    h("div", { class: "page-head" }, title, h("a", { href: "#/scenarios" }, "← All scenarios")),
    meta,
    panel("Progress", progress, h("div", { class: "row" }, state, cancel, report), note),
    panel("SLO verdicts", verdict),
    charts,
  );
  let stopped = false;
  let drawn: Chart[] = [];
  cancel.addEventListener("click", async () => {
    try {
      await post(`/api/runs/${id}/cancel`, {});
    } catch (e) {
      put(note, badge("bad", (e as ApiError).message));
    }
  });

  async function poll(): Promise<void> {
    if (stopped) return;
    let run: Run;
    try {
      run = await api<Run>(`/api/runs/${id}`);
    } catch (e) {
      put(state, badge("bad", (e as ApiError).message));
      return;
    }
    if (stopped) return;
    const p = Math.round((run.progress ?? 0) * 100);
    bar.style.width = `${p}%`;
    progress.setAttribute("aria-valuenow", String(p));
    put(title, `Run #${id}: ${runName(run)}`);
    put(meta, `${run.kind} on twin version ${run.twin_version}, by ${run.submitted_by}, ${when(run.created_ms)}`);
    put(state, runVerdict(run), ` ${p} %`);
    cancel.hidden = run.status !== "running" && run.status !== "queued";
    if (run.status === "running" || run.status === "queued") {
      window.setTimeout(poll, 500);
      return;
    }
    if (run.status === "failed") put(verdict, h("p", { class: "error" }, run.error ?? "failed"));
    const sides = sidesOf(run);
    if (run.status !== "succeeded" || !sides) {
      if (run.status === "succeeded") put(verdict, h("pre", { class: "diff" }, JSON.stringify(run.result, null, 2)));
      return;
    }
    report.hidden = false;
    const labels: [string, string] = ["scenario", "baseline"];
    const broken = sides.scenario.slos.filter((s) => !s.met).length;
    const before = sides.baseline ? sides.baseline.slos.filter((s) => !s.met).length : null;
    put(
      verdict,
      h(
        "p",
        { id: "run-summary" },
        broken === 0 ? badge("ok", "every SLO holds") : badge("bad", `${broken} SLO${broken > 1 ? "s" : ""} broken`),
        before !== null ? ` in the scenario; ${before} broken in the baseline (same seed, no changes).` : "",
      ),
      sloTable(sides.scenario, sides.baseline, labels),
    );
    drawn = timelineCharts(sides.scenario, sides.baseline, labels);
    put(charts, drawn.map((c) => c.el));
  }
  poll();
  return () => {
    stopped = true;
    drawn.forEach((c) => c.destroy());
  };
}

function compareView(root: HTMLElement, a: number, b: number): () => void {
  const body = h("div", {}, "Loading…");
  put(root, h("div", { class: "page-head" }, h("h1", {}, `Run #${a} vs run #${b}`), h("a", { href: "#/scenarios" }, "← All scenarios")), body);
  let drawn: Chart[] = [];
  (async () => {
    try {
      const [ra, rb] = await Promise.all([api<Run>(`/api/runs/${a}`), api<Run>(`/api/runs/${b}`)]);
      const sa = sidesOf(ra);
      const sb = sidesOf(rb);
      if (!sa || !sb) {
        put(body, h("p", { class: "error" }, "Both runs must have finished with a timeline."));
        return;
      }
      const labels: [string, string] = [`#${a} ${runName(ra)}`, `#${b} ${runName(rb)}`];
      drawn = timelineCharts(sa.scenario, sb.scenario, labels);
      put(body, panel("SLO verdicts", sloTable(sa.scenario, sb.scenario, labels)), h("div", { class: "grid two" }, drawn.map((c) => c.el)));
    } catch (e) {
      put(body, h("p", { class: "error" }, (e as ApiError).message));
    }
  })();
  return () => drawn.forEach((c) => c.destroy());
}
