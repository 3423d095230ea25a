// Overview: health at a glance. SLO verdicts (from the latest simulation of the twin in
// force), drift per service, the twin's recent versions and the recent scenario runs.
// Refreshed every 5 seconds while shown.

import { api, ApiError, post, type Drift, type Run, type SimReport, type SloVerdict, type Version } from "../api";
import { badge, h, panel, put, table } from "../dom";
import { ms, num, pct, when } from "../format";

/// What `/api/predictions` answers (every part optional: the panel shows what is there).
interface Predictions {
  at_ms?: number;
  breaches?: { slo: string; objective?: string; in_s?: number; confirmed?: boolean | null; message?: string }[];
  exhaustions?: { entity: string; metric: string; in_s?: number; message?: string }[];
  degrading?: { service: string; factor_now: number; per_hour: number }[];
  anomalies?: { entity: string; metric: string; at_ms: number; value: number; score: number }[];
  alerts?: unknown[];
}

export function sloState(v: SloVerdict): "ok" | "warn" | "bad" | "idle" {
  if (v.achieved === null) return "idle";
  if (!v.met) return "bad";
  // Met, but within 10 % of the threshold (relative to it) counts as at risk.
  const margin = v.excess === null ? -Infinity : -v.excess;
  const room = v.unit === "%" ? 100 - v.threshold : v.threshold;
  return margin < 0.1 * room ? "warn" : "ok";
}

/// The twin as it is, judged by a run: a simulation, or a scenario run's baseline.
export function asIsOf(run: Run): SimReport | null {
  const r = run.result as Record<string, unknown> | null;
  if (!r) return null;
  if ("baseline" in r && r.baseline && typeof r.baseline === "object") return r.baseline as SimReport;
  if ("slos" in r) return r as unknown as SimReport;
  return null;
}

/// The report of a run's result: a simulation's, or a scenario's (its scenario side).
export function reportOf(run: Run): SimReport | null {
  const r = run.result as Record<string, unknown> | null;
  if (!r) return null;
  if ("scenario" in r && r.scenario && typeof r.scenario === "object") return r.scenario as SimReport;
  if ("slos" in r) return r as unknown as SimReport;
  return null;
}

export function runVerdict(run: Run): HTMLElement {
  if (run.status !== "succeeded") {
    const st = run.status === "failed" ? "bad" : run.status === "cancelled" ? "idle" : "warn";
    const p = run.status === "running" && run.progress !== null ? ` ${Math.round(run.progress * 100)} %` : "";
    return badge(st, run.status + p);
  }
  const rep = reportOf(run);
  if (!rep || rep.slos.length === 0) return badge("ok", "done");
  const broken = rep.slos.filter((s) => !s.met).length;
  return broken ? badge("bad", `${broken} SLO${broken > 1 ? "s" : ""} broken`) : badge("ok", "all SLOs met");
}

export function runName(run: Run): string {
  const p = run.params as Record<string, unknown>;
  if (typeof p?.name === "string" && p.name) return p.name;
  return run.kind;
}

export function overviewView(root: HTMLElement): () => void {
  const slos = h("div", { class: "slo-grid" }, "Loading…");
  const sloHead = h("p", { class: "muted small" });
  const drift = h("div", {}, "Loading…");
  const versions = h("div", {}, "Loading…");
  const runs = h("div", {}, "Loading…");
  const stats = h("div", { class: "stats" });
  const alerts = h("div", { id: "alerts" });
  // The early warning panel appears when the server offers `/api/predictions` (its route is
  // in the OpenAPI document, which needs no token).
  const early = h("div", { id: "early-warning" });
  let hasPredictions = false;
  fetch("/api/openapi.json")
    .then((r) => (r.ok ? r.json() : null))
    .then((doc) => {
      hasPredictions = Boolean(doc?.paths?.["/api/predictions"]);
      if (hasPredictions) refresh();
    })
    .catch(() => {});
  const err = h("p", { class: "error", role: "alert" });
  put(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Overview"), stats),
    err,
    alerts,
    early,
    h(
      "div",
      { class: "grid two" },
      panel("Service level objectives", sloHead, slos),
      panel("Drift: twin vs production", drift),
      panel("Recent twin versions", versions, h("p", {}, h("a", { href: "#/history" }, "All versions →"))),
      panel("Recent scenario runs", runs, h("p", {}, h("a", { href: "#/scenarios" }, "Scenarios →"))),
    ),
  );
  let stopped = false;
  let busy = false;
  const simulate = h(
    "button",
    {
      type: "button",
      class: "primary",
      onclick: async () => {
        simulate.disabled = true;
        try {
          await post<Run>("/api/runs", { kind: "simulate", params: { duration: 120, warmup: 20, replications: 1, name: "SLO check" } });
          await refresh();
        } catch (e) {
          err.textContent = `Could not start a simulation: ${(e as ApiError).message}`;
        } finally {
          simulate.disabled = false;
        }
      },
    },
    "Check SLOs now (2 min simulated)",
  );

  async function refresh(): Promise<void> {
    if (busy || stopped) return;
    busy = true;
    try {
      const [d, v, r] = await Promise.all([
        api<Drift>("/api/drift"),
        api<{ versions: Version[] }>("/api/twin/versions?limit=6"),
        api<{ runs: Run[] }>("/api/runs?limit=20"),
      ]);
      if (stopped) return;
      err.textContent = "";
      renderStats(d, v.versions, r.runs);
      renderAlerts(d, r.runs);
      if (hasPredictions) {
        const p = await api<Predictions>("/api/predictions").catch(() => null);
        if (p && !stopped) renderEarly(p);
      }
      renderSlos(d, r.runs);
      renderDrift(d);
      renderVersions(v.versions);
      renderRuns(r.runs.slice(0, 6));
    } catch (e) {
      if (!stopped) err.textContent = `Could not refresh: ${(e as ApiError).message}`;
    } finally {
      busy = false;
    }
  }

  function renderStats(d: Drift, v: Version[], r: Run[]): void {
    const drifting = d.services.filter((s) => (s.mape ?? 0) > d.threshold_pct).length;
    const running = r.filter((x) => x.status === "running" || x.status === "queued").length;
    put(
      stats,
      stat("Twin version", String(d.twin_version), v[0] ? when(v[0].created_ms) : ""),
      stat("Services watched", String(d.services.length), ""),
      stat("Drifting", String(drifting), `over ${d.threshold_pct} %`, drifting ? "bad" : "ok"),
      stat("Recalibrations", String(d.recalibrations), "since start"),
      stat("Runs in progress", String(running), ""),
    );
  }

  /// What needs attention now: services drifting beyond the threshold, SLOs broken in the
  /// latest judgement of the twin, runs that failed in the last hour.
  function renderAlerts(d: Drift, runs: Run[]): void {
    const items: HTMLElement[] = [];
    const drifting = d.services.filter((x) => (x.mape ?? 0) > d.threshold_pct).sort((a, b) => (b.mape ?? 0) - (a.mape ?? 0));
    const svcLink = (s: string) => h("a", { href: `#/service/${encodeURIComponent(s)}` }, s);
    if (drifting.length > 3) {
      // Many at once (a change in production, or a start): one line, worst first.
      items.push(
        h(
          "li",
          {},
          badge("bad", "drift"),
          ` ${drifting.length} services are off the twin by more than ${d.threshold_pct} %: `,
          drifting.flatMap((s, i) => [i ? ", " : "", svcLink(s.service), ` ${num(s.mape, 1)} %`]),
        ),
      );
    } else {
      for (const s of drifting) {
        items.push(h("li", {}, badge("bad", "drift"), " ", svcLink(s.service), ` is ${num(s.mape, 1)} % off the twin (threshold ${d.threshold_pct} %)`));
      }
    }
    const latest = runs.find((x) => x.status === "succeeded" && x.twin_version === d.twin_version && (asIsOf(x)?.slos.length ?? 0) > 0);
    for (const s of (latest ? asIsOf(latest)?.slos ?? [] : []).filter((x) => !x.met)) {
      items.push(h("li", {}, badge("bad", "SLO"), ` ${s.name} broken in the twin as it is (${s.objective})`));
    }
    for (const r of runs.filter((x) => x.status === "failed" && Date.now() - x.created_ms < 3_600_000)) {
      items.push(h("li", {}, badge("warn", "run"), " ", h("a", { href: `#/scenarios/run/${r.id}` }, `#${r.id}`), ` failed: ${r.error ?? ""}`));
    }
    put(alerts, items.length ? h("section", { class: "panel alerts", "aria-label": "Alerts" }, h("h2", {}, `Needs attention (${items.length})`), h("ul", {}, items)) : null);
  }

  function renderEarly(p: Predictions): void {
    const soon = (sec: number | undefined) => (sec === undefined || !Number.isFinite(sec) ? "" : sec < 3600 ? `in ${Math.round(sec / 60)} min` : `in ${(sec / 3600).toFixed(1)} h`);
    const items: HTMLElement[] = [];
    for (const b of p.breaches ?? []) {
      items.push(h("li", {}, badge(b.confirmed === false ? "warn" : "bad", `SLO ${soon(b.in_s)}`), " ", b.message ?? `${b.slo} (${b.objective})`, b.confirmed === true ? " (confirmed by simulation)" : ""));
    }
    for (const x of p.exhaustions ?? []) {
      items.push(h("li", {}, badge("warn", `full ${soon(x.in_s)}`), " ", x.message ?? `${x.entity} ${x.metric}`));
    }
    for (const g of p.degrading ?? []) {
      items.push(h("li", {}, badge("warn", "degrading"), " ", h("a", { href: `#/service/${encodeURIComponent(g.service)}` }, g.service), ` is ${num(g.factor_now)}× the twin's service time, +${num(g.per_hour)} an hour`));
    }
    const firing = (p.alerts ?? []).length;
    const anomalies = (p.anomalies ?? []).slice(0, 5);
    put(
      early,
      h(
        "section",
        { class: "panel", "aria-label": "Early warning" },
        h("h2", {}, "Early warning"),
        h("p", { class: "muted small" }, `Predictions from the twin, ${p.at_ms ? when(p.at_ms) : "not evaluated yet"}; ${firing} alert${firing === 1 ? "" : "s"} firing.`),
        items.length ? h("ul", {}, items) : h("p", {}, badge("ok", "clear"), " Nothing is predicted to break within the horizon."),
        anomalies.length
          ? [h("h3", {}, "Recent anomalies"), table(["When", "Where", "Metric", "Value", "Score"], anomalies.map((a) => [when(a.at_ms), a.entity, a.metric, num(a.value), num(a.score)]))]
          : null,
      ),
    );
  }

  function renderSlos(d: Drift, runs: Run[]): void {
    const judged = (x: Run) => x.status === "succeeded" && (asIsOf(x)?.slos.length ?? 0) > 0;
    const latest = runs.find((x) => judged(x) && x.twin_version === d.twin_version) ?? runs.find(judged);
    const rep = latest ? asIsOf(latest) : null;
    if (!latest || !rep) {
      put(sloHead, "No simulation has judged the SLOs yet.");
      put(slos, simulate);
      return;
    }
    const counts = { ok: 0, warn: 0, bad: 0, idle: 0 };
    for (const s of rep.slos) counts[sloState(s)]++;
    const how = latest.kind === "scenario" ? `the baseline of run #${latest.id} (${runName(latest)})` : `run #${latest.id} (${runName(latest)})`;
    put(
      sloHead,
      `The twin as it is, simulated by ${how} on version ${latest.twin_version}, ${when(latest.updated_ms ?? latest.created_ms)}: `,
      h("strong", {}, `${counts.ok} met, ${counts.warn} at risk, ${counts.bad} broken`),
      latest.twin_version !== d.twin_version ? " (an older version of the twin)" : "",
      " ",
      simulate,
    );
    put(
      slos,
      rep.slos.map((s) => {
        const st = sloState(s);
        const label = { ok: "met", warn: "at risk", bad: "broken", idle: "no data" }[st];
        return h(
          "div",
          { class: `slo ${st}` },
          h("div", { class: "slo-name" }, s.name),
          h("div", { class: "muted small" }, `${s.target} · ${s.objective}`),
          h(
            "div",
            {},
            badge(st, label),
            " achieved ",
            h("strong", {}, s.unit === "%" ? `${num(s.achieved, 3)} %` : ms(s.achieved)),
          ),
        );
      }),
    );
  }

  function renderDrift(d: Drift): void {
    if (d.services.length === 0) {
      put(drift, h("p", { class: "muted" }, "No production data yet: drift appears once metrics arrive."));
      return;
    }
    const max = Math.max(d.threshold_pct * 2, ...d.services.map((s) => s.mape ?? 0));
    const rows = [...d.services]
      .sort((a, b) => (b.mape ?? 0) - (a.mape ?? 0))
      .map((s) => {
        const m = s.mape ?? 0;
        const st = m > d.threshold_pct ? "bad" : m > d.threshold_pct / 2 ? "warn" : "ok";
        return [
          h("a", { href: `#/service/${encodeURIComponent(s.service)}` }, s.service),
          num(s.observed_rps) + "/s",
          h("span", { class: "nowrap" }, `${ms(s.predicted_latency_ms)} / ${ms(s.observed_latency_ms)}`),
          h("span", { class: "nowrap" }, `${pct(s.predicted_utilization)} / ${pct(s.observed_utilization)}`),
          h(
            "div",
            { class: "bar-cell" },
            h("div", { class: `bar ${st}`, style: `width:${Math.min(100, (m / max) * 100).toFixed(1)}%` }),
            h("span", {}, `${num(m, 1)} %`),
          ),
        ];
      });
    put(
      drift,
      h("p", { class: "muted small" }, `Mean absolute error of the twin's prediction at the observed rates, last ${d.at_ms ? when(d.at_ms) : "–"}; threshold ${d.threshold_pct} %.`),
      table(["Service", "Rate", "Latency twin / prod", "Utilization twin / prod", "Drift"], rows),
      d.last_recalibration ? h("p", { class: "muted small" }, `Last recalibration: ${d.last_recalibration}`) : null,
    );
  }

  function renderVersions(v: Version[]): void {
    put(
      versions,
      table(
        ["Version", "When", "By", "Why"],
        v.map((x) => [h("a", { href: `#/history/${x.version}` }, `v${x.version}`), when(x.created_ms), x.author, x.reason]),
      ),
    );
  }

  function renderRuns(r: Run[]): void {
    if (r.length === 0) {
      put(runs, h("p", { class: "muted" }, "No runs yet."));
      return;
    }
    put(
      runs,
      table(
        ["Run", "What", "When", "Verdict"],
        r.map((x) => [h("a", { href: `#/scenarios/run/${x.id}` }, `#${x.id}`), runName(x), when(x.created_ms), runVerdict(x)]),
      ),
    );
  }

  refresh();
  const timer = window.setInterval(refresh, 5000);
  return () => {
    stopped = true;
    window.clearInterval(timer);
  };
}

function stat(label: string, value: string, sub: string, state?: string): HTMLElement {
  return h(
    "div",
    { class: `stat ${state ?? ""}` },
    h("div", { class: "stat-value" }, value),
    h("div", { class: "stat-label" }, label),
    sub ? h("div", { class: "muted small" }, sub) : null,
  );
}
