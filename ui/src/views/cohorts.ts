// Cohorts: who the users are (learned from an access log or traces) and what each group
// experiences on the twin, side by side: size, description in words, page latency p50/p90/p99,
// errors, completion, lost sessions and goals; then the personalization what-ifs ranked by
// experience gained, with their capacity cost. It answers "who is having a bad time, and what
// would help them most". Operators can learn from a new file.

import { api, ApiError, raw } from "../api";
import { Chart } from "../charts";
import { badge, h, panel, put, table } from "../dom";
import { ms, num, pct, when } from "../format";

interface LearnedCohort {
  name: string;
  description: string;
  attributes: Record<string, string>;
  sessions: number;
  share: number;
  pages_mean: number;
  goal_share: number;
  error_rate: number;
  by_hour: number[];
}

interface CohortExperience {
  name: string;
  description: string;
  sessions_per_hour: number;
  page_latency_ms: { p50: number; p90: number; p99: number };
  error_rate: number;
  abandon_per_page: number;
  completion: number;
  goal_ideal: number;
  goal_reached: number;
  lost_sessions_per_hour: number;
  lost_goals_per_hour: number;
  slowest: [string, number] | null;
}

interface WhatIf {
  name: string;
  description: string;
  cohort: string;
  goals_saved_per_hour: number;
  sessions_saved_per_hour: number;
  per_cohort: [string, number, number][];
  origin_rps_delta: number;
  busy_cores_delta: number;
  cost_note: string;
  within_noise: boolean;
}

export interface CohortReport {
  learned_at_ms: number;
  source: string;
  sessions: number;
  days: number;
  cohorts_by: string;
  diagnostics: string[];
  twin_version: number;
  cohorts: LearnedCohort[];
  report: {
    hour: number;
    sessions_per_s: number;
    unmapped: [string, number][];
    cohorts: CohortExperience[];
    what_ifs: WhatIf[];
  };
}

/// How a cohort fares: bad when it loses more than 10% of its sessions, warn over 3%.
export function state(c: CohortExperience): "ok" | "warn" | "bad" {
  const lost = c.sessions_per_hour > 0 ? c.lost_sessions_per_hour / c.sessions_per_hour : 0;
  return lost > 0.1 ? "bad" : lost > 0.03 ? "warn" : "ok";
}

const SERIES = ["series-1", "series-2", "series-3", "series-4"];

export function cohortsView(root: HTMLElement): () => void {
  const err = h("p", { class: "error", role: "alert" });
  const body = h("div", {}, h("p", { class: "muted" }, "Simulating each cohort on the twin…"));
  const learn = learnForm(() => load());
  put(root, h("div", { class: "page-head" }, h("h1", {}, "Cohorts")), err, body, learn);
  let stopped = false;
  let chart: Chart | null = null;
  let retry = 0;

  async function load(): Promise<void> {
    try {
      const d = await api<CohortReport>("/api/cohorts/report");
      if (stopped) return;
      chart?.destroy();
      chart = null;
      put(body, ...render(d, (c) => (chart = c)));
    } catch (e) {
      if (stopped) return;
      const a = e as ApiError;
      // Nothing learned yet (the demo learns at start): look again shortly.
      if (a.status === 404) retry = window.setTimeout(load, 5000);
      put(
        body,
        a.status === 404
          ? h("p", { class: "muted", id: "cohorts-empty" }, "No cohorts learned yet: give an access log or traces below (or `doppel users learn`).")
          : h("p", { class: "error" }, a.message),
      );
    }
  }
  load();
  return () => {
    stopped = true;
    window.clearTimeout(retry);
    chart?.destroy();
  };
}

function render(d: CohortReport, keep: (c: Chart) => void): HTMLElement[] {
  const r = d.report;
  const learned = new Map(d.cohorts.map((c) => [c.name, c]));
  const worst = r.cohorts[0];
  const best = r.what_ifs.find((w) => !w.within_noise && w.sessions_saved_per_hour > 0);
  const maxP99 = Math.max(1, ...r.cohorts.map((c) => c.page_latency_ms.p99));
  const answer = panel(
    "Who is having a bad time",
    worst
      ? h(
          "p",
          { id: "cohorts-answer" },
          r.cohorts.every((c) => state(c) === "ok") ? "Nobody, at this load. " : null,
          h("strong", {}, worst.name),
          ` (${pct(learned.get(worst.name)?.share)} of sessions) fares worst${state(worst) === "ok" ? ", and still fine" : ""}: ${pct(worst.completion)} of its sessions complete, `,
          `${num(worst.lost_sessions_per_hour)} sessions and ${num(worst.lost_goals_per_hour)} goal completions lost per hour, `,
          `page p90 ${ms(worst.page_latency_ms.p90)}. `,
          best
            ? [
                "What would help most: ",
                h("strong", {}, best.name),
                ` (${best.description}) saves ${num(best.sessions_saved_per_hour)} sessions and ${num(best.goals_saved_per_hour)} goals per hour`,
                `, ${signed(best.origin_rps_delta)} origin requests/s, ${signed(best.busy_cores_delta)} busy cores.`,
              ]
            : "No what-if helps beyond run-to-run noise.",
        )
      : h("p", { class: "muted" }, "No cohort maps onto the twin."),
    h(
      "p",
      { class: "muted small" },
      `${d.cohorts.length} cohorts by ${d.cohorts_by.split(" (")[0]}, from ${d.sessions} sessions over ${d.days} day${d.days === 1 ? "" : "s"} of ${d.source === "traces" ? "traces" : "access log"} (learned ${when(d.learned_at_ms)}); `,
      `simulated at ${num(r.sessions_per_s)} sessions/s (local hour ${r.hour}) on twin v${d.twin_version}.`,
      r.unmapped.length ? ` Not in the twin: ${r.unmapped.map(([e, s]) => `${e} (${pct(s)})`).join(", ")}.` : "",
    ),
  );

  const cards = h(
    "div",
    { class: "cohort-grid", id: "cohort-cards" },
    r.cohorts.map((c) => {
      const l = learned.get(c.name);
      const st = state(c);
      const bar = (label: string, v: number) =>
        h(
          "div",
          { class: "bar-cell", title: `${label} ${ms(v)}` },
          h("span", { class: "small lat-label" }, label),
          h("div", { class: `bar ${v > 3000 ? "bad" : v > 1000 ? "warn" : "ok"}`, style: `width:${Math.max(2, (70 * v) / maxP99)}%` }),
          h("span", { class: "small" }, ms(v)),
        );
      return h(
        "article",
        { class: `cohort ${st}`, "data-cohort": c.name, tabindex: "0", "aria-label": `Cohort ${c.name}` },
        h("h3", {}, c.name, " ", badge(st, st === "ok" ? "fine" : st === "warn" ? "suffering" : "bad time")),
        h("p", { class: "small" }, l?.description ?? c.description),
        h(
          "dl",
          { class: "cohort-facts" },
          fact("Size", l ? `${pct(l.share)} · ${l.sessions} sessions` : "–"),
          fact("Simulated", `${num(c.sessions_per_hour)} sessions/h`),
          fact("Errors", pct(c.error_rate, 2)),
          fact("Completion", pct(c.completion)),
          fact("Goal reached", `${pct(c.goal_reached, 2)} of ${pct(c.goal_ideal, 2)}`),
          fact("Lost / h", `${num(c.lost_sessions_per_hour)} sessions, ${num(c.lost_goals_per_hour)} goals`),
        ),
        h("div", { class: "small muted" }, "Page latency"),
        bar("p50", c.page_latency_ms.p50),
        bar("p90", c.page_latency_ms.p90),
        bar("p99", c.page_latency_ms.p99),
        c.slowest ? h("p", { class: "small muted" }, `Slowest page: ${c.slowest[0]} (p90 ${ms(c.slowest[1])})`) : null,
      );
    }),
  );

  const whatIfTable = r.what_ifs.length
    ? table(
          ["#", "What-if", "For", "Sessions saved / h", "Goals saved / h", "Δ origin req/s", "Δ busy cores", "Cost"],
          r.what_ifs.map((w, i) => [
            String(i + 1),
            h("span", { title: w.description }, h("code", {}, w.name), w.within_noise ? [" ", badge("idle", "within noise")] : null),
            w.cohort,
            num(w.sessions_saved_per_hour),
            num(w.goals_saved_per_hour),
            signed(w.origin_rps_delta),
            signed(w.busy_cores_delta),
            h("span", { class: "small" }, w.cost_note),
          ]),
          "Each what-if simulated with the same seed; gains within three times the spread of two replicate baselines are marked.",
        )
    : null;
  whatIfTable?.setAttribute("id", "cohort-whatifs");
  const whatIfs = panel("What would help, ranked", whatIfTable ?? h("p", { class: "muted" }, "No what-ifs were simulated."));

  const hours = Array.from({ length: 24 }, (_, i) => i);
  const shown = d.cohorts.slice(0, SERIES.length);
  const arrivals = new Chart({
    title: "Sessions per hour of the day, as learned",
    unit: "sessions/h",
    time: false,
    xUnit: "h",
    series: shown.map((c, i) => ({ label: c.name, color: SERIES[i] })),
    data: [hours, ...shown.map((c) => (c.by_hour.length === 24 ? c.by_hour : hours.map(() => null)))],
    height: 200,
  });
  keep(arrivals);
  const notes = d.diagnostics.length
    ? h("details", {}, h("summary", {}, `${d.diagnostics.length} input problems`), h("pre", { class: "diff" }, d.diagnostics.join("\n")))
    : null;
  return [answer, cards, whatIfs, panel("Arrivals", arrivals.el, notes)];
}

function fact(label: string, value: string): HTMLElement[] {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function signed(v: number): string {
  return (v > 0 ? "+" : "") + num(v);
}

function learnForm(done: () => void): HTMLElement {
  const file = h("input", { type: "file", id: "cohorts-file", "aria-label": "Access log or traces file" });
  const source = h(
    "select",
    { id: "cohorts-source" },
    h("option", { value: "auto" }, "decide from the file"),
    h("option", { value: "log" }, "access log (NCSA, JSON lines)"),
    h("option", { value: "traces" }, "traces (OTLP JSON, Jaeger JSON)"),
  );
  const by = h("input", { type: "text", id: "cohorts-by", value: "device", "aria-label": "Cohorts by attributes" });
  const attrs = h("input", { type: "text", id: "cohorts-attributes", placeholder: "region:geo.region", "aria-label": "Attributes as name:field, comma-separated" });
  const rate = h("input", { type: "number", id: "cohorts-rate", min: "0", step: "any", placeholder: "busiest hour", "aria-label": "Sessions per second to simulate" });
  const msg = h("p", { class: "muted small", role: "status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "primary",
      onclick: async () => {
        const f = file.files?.[0];
        if (!f) {
          msg.textContent = "Pick a file first.";
          return;
        }
        const q = new URLSearchParams({ source: source.value, by: by.value });
        if (rate.value) q.set("rate", rate.value);
        if (attrs.value.trim()) q.set("attributes", attrs.value.trim());
        msg.textContent = "Learning and simulating…";
        try {
          await raw(`/api/cohorts/learn?${q}`, { method: "POST", body: await f.arrayBuffer() });
          msg.textContent = `Learned from ${f.name}.`;
          done();
        } catch (e) {
          const a = e as ApiError;
          msg.textContent = a.status === 403 ? "Learning needs the operator role." : a.message;
        }
      },
    },
    "Learn cohorts",
  );
  return panel(
    "Learn from your traffic",
    h("p", { class: "muted small" }, "An nginx/Apache access log, JSON lines, or traces whose spans carry session.id, enduser.id, user_agent.original and url.path."),
    h(
      "div",
      { class: "form-grid" },
      h("label", {}, "File", file),
      h("label", {}, "Format", source),
      h("label", {}, "Cohorts by", by),
      h("label", {}, "Attributes (name:field)", attrs),
      h("label", {}, "Sessions/s to simulate", rate),
    ),
    h("div", { class: "toolbar" }, button),
    msg,
  );
}
