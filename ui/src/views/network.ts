// Network: the twin's routers and links carrying the traffic its workloads generate, or the
// flows observed live (`/api/network/route?traffic=workloads|live`), drawn twice side by side,
// coloured by link utilization: before (ECMP under the IGP weights in force) and after
// optimization (the method chosen: LP, LP over k shortest paths, IGP weight search, at most
// N weight changes, ECMP; for the MLU or the mean delay). Beside them the MLU before and
// after, the solve time, every link's load, the proposed IGP weights, and the single-link
// failure table, worst first.

import cytoscape from "cytoscape";
import type { Core, ElementDefinition } from "cytoscape";
import { api, ApiError } from "../api";
import { badge, h, panel, put, table } from "../dom";
import { num, pct } from "../format";
import { color, heat } from "../theme";

export interface LinkLoad {
  from: string;
  to: string;
  link: string;
  up: boolean;
  capacity_bps: number;
  load_bps: number;
  utilization: number;
  latency_s: number;
}
export interface Routing {
  method: string;
  objective: string;
  mlu: number;
  solve_seconds: number;
  mean_delay_ms: number | null;
  lp_optimum?: number;
  gap?: number;
  initial_mlu?: number;
  mlu_bound?: number;
  links: LinkLoad[];
  weights?: { from: string; to: string; link: string; weight: number; was: number }[];
}
export interface FailureRow {
  failed: string;
  mlu_after: number;
  worst_link_after: string | null;
  stranded_bps_after: number;
  mlu_before: number | null;
  worst_link_before: string | null;
  stranded_bps_before: number | null;
}
export interface NetworkAnswer {
  twin_version: number;
  method: string;
  objective: string;
  routers: { name: string; zone: string | null; tags: string[] }[];
  links: { name: string; from: string; to: string; capacity_bps: number; latency_s: number; weight: number }[];
  demands: { from: string; to: string; rate_bps: number }[];
  total_bps: number;
  notes: string[];
  mlu_before: number;
  mlu_after: number;
  before: Routing;
  after: Routing;
  failures: FailureRow[];
  max_changes: number | null;
  traffic: {
    source: "workloads" | "live";
    window_s?: number;
    observed_from_ms?: number | null;
    observed_to_ms?: number | null;
    flows: unknown[];
  };
}

/// Bits per second, readable.
export function bps(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${num(x)} ${units[i]}`;
}

/// Router positions in layers (the same in both drawings): the routers tagged
/// `internet-gateway` or `ingress` on top (else the best connected one), then each router one
/// layer below its nearest layer by hops, a layer ordered by zone then name; routers nothing
/// links to go in a last layer.
export function positions(a: NetworkAnswer): Map<string, { x: number; y: number }> {
  const names = a.routers.map((r) => r.name);
  const adj = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
  for (const l of a.links) {
    adj.get(l.from)?.add(l.to);
    adj.get(l.to)?.add(l.from);
  }
  let roots = a.routers.filter((r) => r.tags.includes("internet-gateway") || r.tags.includes("ingress")).map((r) => r.name);
  if (roots.length === 0 && names.length > 0) {
    const degree = (n: string) => adj.get(n)?.size ?? 0;
    roots = [[...names].sort((p, q) => degree(q) - degree(p) || p.localeCompare(q))[0]];
  }
  const level = new Map<string, number>(roots.map((r) => [r, 0]));
  let frontier = roots;
  while (frontier.length) {
    const next: string[] = [];
    for (const n of frontier) {
      for (const m of adj.get(n) ?? []) {
        if (!level.has(m)) {
          level.set(m, (level.get(n) ?? 0) + 1);
          next.push(m);
        }
      }
    }
    frontier = next;
  }
  const deepest = Math.max(0, ...level.values());
  const zone = new Map(a.routers.map((r) => [r.name, r.zone ?? ""]));
  const layers: string[][] = [];
  for (const n of names) {
    const l = level.get(n) ?? deepest + 1;
    (layers[l] ??= []).push(n);
  }
  const out = new Map<string, { x: number; y: number }>();
  layers.forEach((layer, depth) => {
    layer.sort((p, q) => (zone.get(p) ?? "").localeCompare(zone.get(q) ?? "") || p.localeCompare(q));
    const gap = 150;
    layer.forEach((n, i) => out.set(n, { x: (i - (layer.length - 1) / 2) * gap, y: depth * 200 }));
  });
  return out;
}

/// The drawing of one routing: routers, and one edge per direction of each link carrying
/// its utilization (coloured against `scale`: 1 for absolute, else the hottest link's).
export function networkElements(a: NetworkAnswer, r: Routing, scale: number): ElementDefinition[] {
  const pos = positions(a);
  const els: ElementDefinition[] = a.routers.map((n) => ({
    group: "nodes",
    data: { id: n.name, label: n.name, zone: n.zone ?? "", w: 20 + 8 * n.name.length },
    position: pos.get(n.name) ?? { x: 0, y: 0 },
  }));
  r.links.forEach((l, i) => {
    const rel = scale > 0 ? l.utilization / scale : 0;
    els.push({
      group: "edges",
      data: {
        id: `a${i}`,
        source: l.from,
        target: l.to,
        // Idle arcs stay unlabelled: on a real network most backups carry nothing.
        label: !l.up ? "down" : l.load_bps > 0 ? pct(l.utilization, l.utilization < 0.01 ? 2 : 1) : "",
        color: l.up ? heat(rel) : color("nodata"),
        width: 2 + 8 * Math.min(1, Math.max(0, rel)),
      },
      classes: l.up ? "" : "down",
    });
  });
  return els;
}

function graphStyle(): cytoscape.StylesheetJson {
  const fg = color("fg");
  return [
    {
      selector: "node",
      style: {
        label: "data(label)",
        // Dark on the dark theme's light orange, white on the light theme's dark orange.
        color: color("accent-fg"),
        "font-size": 13,
        "font-weight": "bold",
        "text-valign": "center",
        "text-halign": "center",
        "background-color": color("kind-router"),
        shape: "round-rectangle",
        width: "data(w)",
        height: 28,
        "border-width": 1,
        "border-color": color("border"),
        "text-outline-width": 0,
      },
    },
    {
      selector: "edge",
      style: {
        width: "data(width)",
        "line-color": "data(color)",
        "target-arrow-color": "data(color)",
        "target-arrow-shape": "triangle",
        "curve-style": "bezier",
        "control-point-step-size": 44,
        // Near the tail of each arrow, so the two directions of a link never overlap.
        "source-label": "data(label)",
        "source-text-offset": 46,
        "font-size": 13,
        color: fg,
        "text-background-color": color("panel"),
        "text-background-opacity": 0.85,
        "text-background-padding": "2px",
      },
    },
    { selector: "edge.down", style: { "line-style": "dashed" } },
  ];
}

/// How the failure analysis re-routes after a failure, for a routing method.
function rerouted(method: string): string {
  if (method.startsWith("lp-paths")) return "optimally over the same candidate paths";
  if (method.startsWith("lp")) return "by the min-MLU LP again";
  if (method === "igp") return "by ECMP under the proposed weights";
  return "by ECMP";
}

/// A time of observation, local and short.
function when(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "–" : new Date(ms).toLocaleTimeString();
}

function stat(label: string, value: string, cls = "", id?: string): HTMLElement {
  return h("div", { class: `stat ${cls}`, id }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, label));
}

export function networkView(root: HTMLElement): () => void {
  const status = h("p", { class: "muted small", id: "net-status", role: "status" }, "Routing the twin's traffic…");
  const err = h("p", { class: "error", role: "alert" });
  const method = h(
    "select",
    { id: "net-method", "aria-label": "Optimization method" },
    h("option", { value: "lp" }, "LP optimum (min MLU)"),
    h("option", { value: "lp-paths" }, "LP over 4 shortest paths"),
    h("option", { value: "igp" }, "IGP weight search (ECMP)"),
    h("option", { value: "ecmp" }, "ECMP, current weights"),
  );
  const objective = h(
    "select",
    { id: "net-objective", "aria-label": "Objective" },
    h("option", { value: "mlu" }, "Minimise the max utilization"),
    h("option", { value: "delay" }, "Minimise the mean delay (LP)"),
  );
  const source = h(
    "select",
    { id: "net-traffic", "aria-label": "Traffic" },
    h("option", { value: "workloads" }, "Traffic of the twin's workloads"),
    h("option", { value: "live" }, "Traffic observed live (flows, last minute)"),
  );
  const maxChanges = h("input", {
    id: "net-max-changes",
    type: "number",
    min: "1",
    step: "1",
    placeholder: "any",
    title: "At most this many links get a new IGP weight (1: the next weight change); empty for no limit",
    "aria-label": "Most weight changes",
    style: "width:7rem",
  }) as HTMLInputElement;
  const maxChangesLabel = h("label", { class: "small" }, "max changes ", maxChanges);
  const scaleSel = h(
    "select",
    { id: "net-scale", "aria-label": "Colour scale" },
    h("option", { value: "relative" }, "Colours relative to the hottest link"),
    h("option", { value: "absolute" }, "Colours absolute (100 % = full)"),
  );
  const stats = h("div", { class: "stats", id: "net-stats" });
  const beforeBox = h("div", { class: "cy net-cy", id: "net-before", role: "img", "aria-label": "Link utilization before optimization" });
  const afterBox = h("div", { class: "cy net-cy", id: "net-after", role: "img", "aria-label": "Link utilization after optimization" });
  const beforeTitle = h("h2", {}, "Before: ECMP, weights in force");
  const afterTitle = h("h2", {}, "After");
  const legend = h("div", { class: "legend" });
  const notes = h("div", { id: "net-notes" });
  const linksBox = h("div", { id: "net-links" });
  const failBox = h("div", { id: "net-failures" });
  const weightsBox = h("div", { id: "net-weights" });

  put(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Network"), status),
    err,
    h(
      "form",
      { class: "toolbar", onsubmit: (e: Event) => { e.preventDefault(); load(); } },
      source,
      method,
      maxChangesLabel,
      objective,
      h("button", { type: "submit", class: "primary", id: "net-run" }, "Optimize"),
      scaleSel,
    ),
    stats,
    h(
      "div",
      { class: "grid two" },
      h("section", { class: "panel" }, beforeTitle, beforeBox),
      h("section", { class: "panel" }, afterTitle, afterBox),
    ),
    legend,
    notes,
    h(
      "div",
      { class: "grid two", style: "margin-top:1rem" },
      panel("Single-link failures, worst first", failBox),
      h("div", { class: "grid" }, panel("Links", linksBox), weightsBox),
    ),
  );

  let graphs: Core[] = [];
  let answer: NetworkAnswer | null = null;
  let stopped = false;

  function scale(a: NetworkAnswer): number {
    if (scaleSel.value === "absolute") return 1;
    return Math.max(a.mlu_before, a.mlu_after, 1e-12);
  }

  function draw(): void {
    if (!answer) return;
    const a = answer;
    graphs.forEach((g) => g.destroy());
    const s = scale(a);
    graphs = [
      [beforeBox, a.before],
      [afterBox, a.after],
    ].map(([box, r]) => {
      const c = cytoscape({
        container: box as HTMLElement,
        elements: networkElements(a, r as Routing, s),
        style: graphStyle(),
        layout: { name: "preset", fit: true, padding: 40 },
        maxZoom: 1.6,
        minZoom: 0.1,
        boxSelectionEnabled: false,
      });
      (box as HTMLElement).dataset.nodes = String(c.nodes().length);
      (box as HTMLElement).dataset.edges = String(c.edges().length);
      return c;
    });
    put(
      legend,
      h("span", { class: "key" }, "0 %"),
      h("span", { class: "ramp", "aria-hidden": "true" }),
      h("span", { class: "key" }, scaleSel.value === "absolute" ? "100 % of capacity" : `${pct(s, 2)} (the hottest link, before or after)`),
      h("span", { class: "key" }, "each arrow is one direction of a link; width grows with load"),
    );
  }

  function render(a: NetworkAnswer): void {
    answer = a;
    const lp = a.after.lp_optimum ?? (a.after.method.startsWith("lp") && a.objective === "mlu" ? a.after.mlu : undefined);
    const better = a.mlu_before > 0 ? 1 - a.mlu_after / a.mlu_before : 0;
    put(
      stats,
      stat("MLU before (ECMP)", pct(a.mlu_before, 2), "", "net-mlu-before"),
      stat(`MLU after (${a.after.method})`, pct(a.mlu_after, 2), better > 0 ? "ok" : "", "net-mlu-after"),
      stat("MLU change", better > 0 ? `−${pct(better, 1)}` : better < 0 ? `+${pct(-better, 1)}` : "none"),
      lp !== undefined ? stat("LP optimum", pct(lp, 2)) : null,
      stat("solve time", `${num(a.after.solve_seconds * 1000, 1)} ms`),
      stat("mean delay after", a.after.mean_delay_ms === null ? "saturated" : `${num(a.after.mean_delay_ms, 3)} ms`),
      stat("traffic", bps(a.total_bps)),
    );
    afterTitle.textContent = `After: ${a.after.method} (${a.objective === "delay" ? "min mean delay" : "min MLU"})`;
    put(
      status,
      `Twin version ${a.twin_version}: ${a.routers.length} routers, ${a.links.length} links, ${a.demands.length} router-to-router demands ${
        a.traffic.source === "live"
          ? `from ${a.traffic.flows.length} flows observed ${when(a.traffic.observed_from_ms)} to ${when(a.traffic.observed_to_ms)}`
          : "from the twin's workloads"
      }${a.max_changes ? `; at most ${a.max_changes} weight change${a.max_changes > 1 ? "s" : ""}` : ""}.`,
    );
    put(notes, a.notes.length ? h("ul", { class: "small muted" }, a.notes.map((n) => h("li", {}, n))) : null);
    draw();
    // Links: one row per direction, before and after.
    const key = (l: LinkLoad) => `${l.from}>${l.to}>${l.link}`;
    const before = new Map(a.before.links.map((l) => [key(l), l]));
    const lt = table(
      ["Link", "Direction", "Capacity", "Before", "After"],
      a.after.links.map((l) => {
        const b = before.get(key(l));
        return [
          l.link,
          `${l.from} → ${l.to}`,
          bps(l.capacity_bps),
          b ? `${pct(b.utilization, 2)} (${bps(b.load_bps)})` : "–",
          `${pct(l.utilization, 2)} (${bps(l.load_bps)})`,
        ];
      }),
    );
    lt.id = "net-links-table";
    put(linksBox, lt);
    // The failure table, worst first (as the server sorts it).
    const ft = table(
      ["Failed link", "MLU after re-routing", "Hottest link", "MLU with ECMP", "Stranded"],
      a.failures.map((f) => [
        f.failed,
        h("strong", {}, pct(f.mlu_after, 2)),
        f.worst_link_after ?? "–",
        pct(f.mlu_before, 2),
        f.stranded_bps_after > 0 ? badge("bad", bps(f.stranded_bps_after)) : badge("ok", "none"),
      ]),
    );
    ft.id = "net-failures-table";
    put(
      failBox,
      a.failures.length
        ? [h("p", { class: "small muted" }, `Each link fails alone (both directions); the traffic is re-routed ${rerouted(a.after.method)} and, for comparison, by ECMP under the weights in force.`), ft]
        : h("p", { class: "muted" }, "No links."),
    );
    const changed = (a.after.weights ?? []).filter((w) => w.weight !== w.was);
    put(
      weightsBox,
      a.after.weights
        ? panel(
            "Proposed IGP weights",
            changed.length
              ? table(["Link", "Direction", "Weight now", "Proposed"], changed.map((w) => [w.link, `${w.from} → ${w.to}`, String(w.was), String(w.weight)]))
              : h("p", { class: "muted" }, `No weight change lowers the MLU (${pct(a.after.initial_mlu, 2)} under the weights in force).`),
          )
        : null,
    );
  }

  async function load(): Promise<void> {
    err.textContent = "";
    put(status, "Routing the twin's traffic…");
    try {
      const q = new URLSearchParams({ method: method.value, objective: objective.value, traffic: source.value });
      if (method.value === "igp" && maxChanges.value.trim() !== "") q.set("max_changes", maxChanges.value.trim());
      const a = await api<NetworkAnswer>(`/api/network/route?${q}`);
      if (stopped) return;
      render(a);
    } catch (e) {
      err.textContent = `Could not route: ${(e as ApiError).message}`;
      put(status, "");
    }
  }

  objective.addEventListener("change", () => {
    if (objective.value === "delay") method.value = "lp";
  });
  const showMaxChanges = () => (maxChangesLabel.hidden = method.value !== "igp");
  method.addEventListener("change", () => {
    if (method.value !== "lp") objective.value = "mlu";
    showMaxChanges();
  });
  showMaxChanges();
  scaleSel.addEventListener("change", draw);
  const onTheme = () => draw();
  window.addEventListener("doppel-theme", onTheme);
  load();
  return () => {
    stopped = true;
    window.removeEventListener("doppel-theme", onTheme);
    graphs.forEach((g) => g.destroy());
  };
}
