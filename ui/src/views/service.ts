// Service: what production shows next to what the twin predicts, over a chosen time range
// (stored metrics in 10-second or 5-minute buckets, and the drift history's predictions at
// the observed rates), the drift over time with the recalibrations marked, and the service's
// dependencies up and down.

import { api, ApiError, type DriftRecord, type MetricPoint, type Topology, type Version } from "../api";
import { align, Chart } from "../charts";
import { badge, h, panel, put, table } from "../dom";
import { ms, num, pct, stamp, when } from "../format";

const RANGES: [string, number][] = [
  ["15 min", 15 * 60_000],
  ["1 h", 3_600_000],
  ["6 h", 6 * 3_600_000],
  ["24 h", 24 * 3_600_000],
];

/// What `/api/predictions/series` answers.
interface SeriesForecast {
  points?: { t_ms: number; value: number }[];
  forecast?: { t_ms: number[]; mean: number[]; lower: number[]; upper: number[]; level?: number } | { error: string };
  anomalies?: { at_ms: number; score: number }[];
  exhaustion?: { message?: string } | null;
}

/// Per bucket: request rate, mean latency (ms) and mean utilization from stored points.
export function observedSeries(points: MetricPoint[], resolution: number) {
  const by = new Map<number, Record<string, MetricPoint>>();
  for (const p of points) {
    const row = by.get(p.bucket_ms) ?? {};
    row[p.metric] = p;
    by.set(p.bucket_ms, row);
  }
  // The bucket still filling is left out: its sums are partial.
  const open = Date.now() - resolution * 1000;
  const ts = [...by.keys()].filter((t) => t <= open).sort((a, b) => a - b);
  const rate: (number | null)[] = [];
  const latency: (number | null)[] = [];
  const util: (number | null)[] = [];
  for (const t of ts) {
    const r = by.get(t)!;
    rate.push(r.requests ? r.requests.sum / resolution : null);
    latency.push(r.latency_seconds_sum && r.latency_count && r.latency_count.sum > 0 ? (1000 * r.latency_seconds_sum.sum) / r.latency_count.sum : null);
    util.push(r.utilization && r.utilization.count > 0 ? r.utilization.sum / r.utilization.count : null);
  }
  return { t: ts.map((x) => x / 1000), rate, latency, util };
}

export function serviceView(root: HTMLElement, args: string[]): () => void {
  const name = args[0] ?? "";
  let range = RANGES[1][1];
  const err = h("p", { class: "error", role: "alert" });
  const facts = h("div", { class: "stats" });
  const rangeButtons = RANGES.map(([label, span]) =>
    h(
      "button",
      {
        type: "button",
        "aria-pressed": String(span === range),
        onclick: () => {
          range = span;
          rangeButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(RANGES[i][1] === span)));
          refresh();
        },
      },
      label,
    ),
  );
  const latency = new Chart({ title: "Latency: production vs twin", unit: "ms, mean", time: true, series: [{ label: "production", color: "series-1" }, { label: "twin", color: "series-2", dash: true }], data: [[], [], []] });
  const util = new Chart({ title: "Utilization: production vs twin", unit: "%", time: true, series: [{ label: "production", color: "series-1" }, { label: "twin", color: "series-2", dash: true }], data: [[], [], []] });
  const rate = new Chart({ title: "Request rate (production)", unit: "requests/s", time: true, series: [{ label: "rate", color: "series-3" }], data: [[], []], height: 160 });
  const drift = new Chart({ title: "Drift (mean absolute error of the twin)", unit: "%", time: true, series: [{ label: "drift", color: "series-4" }, { label: "threshold", color: "idle", dash: true, width: 1 }], data: [[], [], []], height: 160 });
  const forecastMetric = h(
    "select",
    { id: "svc-forecast-metric", "aria-label": "Metric to forecast" },
    [["latency_ms", "latency"], ["rps", "request rate"], ["utilization", "utilization"], ["memory_bytes", "memory"]].map(([v, t]) => h("option", { value: v }, t)),
  );
  const forecast = new Chart({
    title: "Forecast",
    unit: "history, forecast and its band; anomalies marked",
    time: true,
    series: [
      { label: "observed", color: "series-1" },
      { label: "forecast", color: "series-2" },
      { label: "lower", color: "series-2", dash: true, width: 1 },
      { label: "upper", color: "series-2", dash: true, width: 1 },
    ],
    data: [[], [], [], [], []],
  });
  const forecastNote = h("p", { class: "muted small", role: "status" });
  const forecastPanel = panel("Forecast (early warning)", h("div", { class: "row" }, forecastMetric, forecastNote), forecast.el);
  forecastPanel.hidden = true;
  forecastMetric.addEventListener("change", () => loadForecast());
  const calib = h("div", {}, "Loading…");
  const deps = h("div", {}, "Loading…");
  const status = h("p", { class: "muted small", role: "status" });
  put(
    root,
    h("div", { class: "page-head" }, h("h1", {}, name), facts),
    err,
    h("div", { class: "row" }, h("span", { class: "muted" }, "Range:"), h("div", { class: "range", role: "group", "aria-label": "Time range" }, rangeButtons), status),
    h("div", { class: "grid two" }, panel("Live vs predicted", latency.el, util.el), panel("Load and drift", rate.el, drift.el)),
    forecastPanel,
    h("div", { class: "grid two" }, panel("Calibration history", calib), panel("Dependencies", deps)),
  );
  // The forecast needs the server's predictions (`/api/predictions/series`).
  let hasForecast = false;
  fetch("/api/openapi.json")
    .then((r) => (r.ok ? r.json() : null))
    .then((doc) => {
      hasForecast = Boolean(doc?.paths?.["/api/predictions/series"]);
      forecastPanel.hidden = !hasForecast;
      if (hasForecast) loadForecast();
    })
    .catch(() => {});

  async function loadForecast(): Promise<void> {
    if (!hasForecast || stopped) return;
    const metric = forecastMetric.value;
    try {
      const f = await api<SeriesForecast>(`/api/predictions/series?entity=${encodeURIComponent(`service:${name}`)}&metric=${metric}`);
      if (stopped) return;
      const scale = metric === "utilization" ? 100 : 1;
      const obs = (f.points ?? []).map((p) => [p.t_ms / 1000, p.value * scale] as [number, number]);
      const fc = f.forecast && !("error" in f.forecast) ? f.forecast : null;
      const ft = fc ? fc.t_ms.map((t) => t / 1000) : [];
      const sc = (xs: number[] | undefined) => (xs ?? []).map((v) => v * scale);
      forecast.set(
        align([obs.map((p) => p[0]), obs.map((p) => p[1])], [ft, sc(fc?.mean)], [ft, sc(fc?.lower)], [ft, sc(fc?.upper)]),
        (f.anomalies ?? []).map((a) => ({ t: a.at_ms / 1000, label: `anomaly ${num(a.score)}` })),
      );
      const why = f.forecast && "error" in f.forecast ? `No forecast yet: ${f.forecast.error}` : fc ? `${Math.round((fc.level ?? 0.95) * 100)} % band` : "";
      put(forecastNote, [why, f.exhaustion?.message ? ` · ${f.exhaustion.message}` : ""].join(""));
    } catch (e) {
      put(forecastNote, (e as ApiError).message);
    }
  }
  let stopped = false;

  async function refresh(): Promise<void> {
    const now = Date.now();
    const from = now - range;
    const resolution = range > 6 * 3_600_000 ? 300 : 10;
    try {
      const [m, d, v, live] = await Promise.all([
        api<{ points: MetricPoint[] }>(`/api/metrics?entity=${encodeURIComponent(`service:${name}`)}&from_ms=${from}&resolution_s=${resolution}&limit=100000`),
        api<{ drift: DriftRecord[] }>(`/api/drift/history?service=${encodeURIComponent(name)}&since_ms=${from}&limit=100000`),
        api<{ versions: Version[] }>("/api/twin/versions?limit=200"),
        api<{ threshold_pct: number }>("/api/drift"),
      ]);
      if (stopped) return;
      err.textContent = "";
      const obs = observedSeries(m.points, resolution);
      const dr = [...d.drift].sort((a, b) => a.at_ms - b.at_ms);
      const dt = dr.map((x) => x.at_ms / 1000);
      const recal = v.versions.filter((x) => x.created_ms >= from && x.reason.includes(name));
      const marks = recal.map((x) => ({ t: x.created_ms / 1000, label: `v${x.version}` }));
      latency.set(align([obs.t, obs.latency], [dt, dr.map((x) => x.predicted_latency_ms)]), marks);
      util.set(align([obs.t, obs.util.map((x) => (x === null ? null : x * 100))], [dt, dr.map((x) => (x.predicted_utilization === null ? null : x.predicted_utilization * 100))]), marks);
      rate.set([obs.t, obs.rate], marks);
      drift.set([dt, dr.map((x) => x.mape), dr.map(() => live.threshold_pct)], marks);
      const last = dr[dr.length - 1];
      put(
        facts,
        stat("Rate", last ? `${num(last.observed_rps)}/s` : "–"),
        stat("Latency prod / twin", last ? `${ms(last.observed_latency_ms)} / ${ms(last.predicted_latency_ms)}` : "–"),
        stat("Utilization prod / twin", last ? `${pct(last.observed_utilization)} / ${pct(last.predicted_utilization)}` : "–"),
        stat("Drift", last ? `${num(last.mape, 1)} %` : "–", last && (last.mape ?? 0) > live.threshold_pct ? "bad" : "ok"),
      );
      put(status, `${obs.t.length} production buckets, ${dr.length} predictions; updated ${new Date().toLocaleTimeString()}`);
      const all = v.versions.filter((x) => x.reason.includes(name));
      put(
        calib,
        all.length === 0
          ? h("p", { class: "muted" }, `No recalibration of ${name} yet: the twin has matched production within the threshold.`)
          : table(
              ["Version", "When", "Why"],
              all.slice(0, 12).map((x) => [h("a", { href: `#/history/${x.version}` }, `v${x.version}`), h("span", { title: stamp(x.created_ms) }, when(x.created_ms)), x.reason]),
            ),
      );
    } catch (e) {
      if (!stopped) err.textContent = `Could not load ${name}: ${(e as ApiError).message}`;
    }
  }

  async function loadDeps(): Promise<void> {
    try {
      const g = await api<Topology>("/api/twin/graph");
      const id = `service:${name}`;
      const calls = g.edges.filter((e) => e.kind === "calls" && e.source === id);
      const callers = g.edges.filter((e) => e.kind === "calls" && e.target === id);
      const instances = g.nodes.filter((n) => n.kind === "instance" && n.service === name);
      const link = (s: string) => h("a", { href: `#/service/${encodeURIComponent(s.replace(/^service:/, ""))}` }, s.replace(/^service:/, ""));
      if (!g.nodes.some((n) => n.id === id)) {
        put(deps, h("p", { class: "error" }, `The twin has no service ${name}.`));
        return;
      }
      put(
        deps,
        h("h3", {}, `Calls (downstream, ${calls.length})`),
        calls.length ? table(["Service", "Calls per request"], calls.map((e) => [link(e.target), num(e.weight ?? 1)])) : h("p", { class: "muted" }, "none"),
        h("h3", {}, `Called by (upstream, ${callers.length})`),
        callers.length ? table(["Service", "Calls per request"], callers.map((e) => [link(e.source), num(e.weight ?? 1)])) : h("p", { class: "muted" }, "none (an entry point)"),
        h("h3", {}, `Instances (${instances.length})`),
        table(["Instance", "Host", "Zone"], instances.map((n) => [n.name, n.host ?? "–", n.zone ?? "–"])),
        h("p", {}, h("a", { href: "#/topology" }, "See it in the topology →")),
      );
    } catch (e) {
      put(deps, badge("bad", (e as ApiError).message));
    }
  }

  refresh();
  loadDeps();
  const timer = window.setInterval(() => {
    refresh();
    loadForecast();
  }, 10_000);
  return () => {
    stopped = true;
    window.clearInterval(timer);
    [latency, util, rate, drift, forecast].forEach((c) => c.destroy());
  };
}

function stat(label: string, value: string, state?: string): HTMLElement {
  return h("div", { class: `stat ${state ?? ""}` }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, label));
}
