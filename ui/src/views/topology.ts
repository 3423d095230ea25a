// Topology: the twin as an interactive graph (cytoscape.js). Positions come from the server
// (`/api/twin/graph`), so even thousands of nodes are drawn at once without a force layout;
// the viewport is drawn from a texture while panning and zooming, edges are hidden during
// the gesture, and labels disappear when they would be too small to read. Grouping by zone,
// host or namespace makes compound nodes, each collapsible into one node; colours show
// utilization, error rate or drift from the live twin.

import cytoscape from "cytoscape";
import type { Core, ElementDefinition, EventObject, NodeSingular } from "cytoscape";
import { api, ApiError, type Drift, type GraphNode, type Live, type MetricPoint, type Topology } from "../api";
import { h, put, table } from "../dom";
import { ms, num, pct } from "../format";
import { color, heat } from "../theme";

type GroupBy = "none" | "zone" | "host" | "namespace";
type ColorBy = "kind" | "utilization" | "errors" | "drift";

interface Values {
  utilization: Map<string, number>;
  errors: Map<string, number>;
  drift: Map<string, number>;
  live: Live | null;
  drift_doc: Drift | null;
}

const KINDS = ["service", "instance", "host", "subnet", "network", "router"] as const;

export function groupOf(n: GraphNode, by: GroupBy): string | undefined {
  switch (by) {
    case "zone":
      return n.zone;
    case "host":
      return n.kind === "host" || n.kind === "instance" ? n.host : undefined;
    case "namespace":
      return n.namespace;
    default:
      return undefined;
  }
}

/// The elements to draw: visible kinds, each node in its group's compound node, collapsed
/// groups as one node with the edges of their members redirected to it.
export function buildElements(
  topo: Topology,
  by: GroupBy,
  collapsed: Set<string>,
  kinds: Set<string>,
  paint: (n: GraphNode) => string = () => color("nodata"),
  edgeKinds: Set<string> = new Set(["calls", "runs-on", "part-of", "in", "link"]),
): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  const rep = new Map<string, string>();
  const members = new Map<string, GraphNode[]>();
  for (const n of topo.nodes) {
    if (!kinds.has(n.kind)) continue;
    const g = groupOf(n, by);
    if (g !== undefined) {
      const list = members.get(g) ?? [];
      list.push(n);
      members.set(g, list);
    }
    if (g !== undefined && collapsed.has(g)) {
      rep.set(n.id, `group:${g}`);
      continue;
    }
    rep.set(n.id, n.id);
    out.push({
      group: "nodes",
      data: {
        id: n.id,
        kind: n.kind,
        name: n.name,
        label: n.kind === "instance" ? n.name.slice(n.name.indexOf("/") + 1) : n.name,
        color: paint(n),
        // No `parent` key at all outside a group: cytoscape then skips its compound checks.
        ...(g !== undefined ? { parent: `group:${g}` } : {}),
      },
      position: { x: n.x, y: n.y },
      classes: n.kind,
    });
  }
  for (const [g, list] of members) {
    const isCollapsed = collapsed.has(g);
    const cx = list.reduce((s, n) => s + n.x, 0) / list.length;
    const cy = list.reduce((s, n) => s + n.y, 0) / list.length;
    out.unshift({
      group: "nodes",
      data: {
        id: `group:${g}`,
        kind: "group",
        name: g,
        label: isCollapsed ? `${g} (${list.length})` : g,
        members: list.length,
        color: color("nodata"),
      },
      position: isCollapsed ? { x: cx, y: cy } : undefined,
      classes: isCollapsed ? "group collapsed" : "group",
    });
  }
  const seen = new Set<string>();
  topo.edges.forEach((e, i) => {
    if (!edgeKinds.has(e.kind)) return;
    const s = rep.get(e.source);
    const t = rep.get(e.target);
    if (!s || !t || s === t) return;
    const meta = s !== e.source || t !== e.target;
    const key = `${s}>${t}>${e.kind}`;
    if (meta && seen.has(key)) return;
    seen.add(key);
    out.push({
      group: "edges",
      data: { id: meta ? `m:${key}` : `e${i}`, source: s, target: t, kind: e.kind, weight: e.weight ?? 1 },
      classes: meta ? `${e.kind} meta` : e.kind,
    });
  });
  return out;
}

function style(): cytoscape.StylesheetJson {
  const fg = color("fg");
  const muted = color("muted");
  const border = color("border");
  const accent = color("accent");
  return [
    {
      selector: "node",
      style: {
        "background-color": "data(color)",
        label: "data(label)",
        color: fg,
        "font-size": 12,
        "min-zoomed-font-size": 7,
        "text-valign": "bottom",
        "text-margin-y": 3,
        width: 18,
        height: 18,
        "border-width": 1,
        "border-color": border,
      },
    },
    { selector: "node.service", style: { shape: "round-rectangle", width: 34, height: 26, "font-size": 15, "font-weight": "bold" } },
    { selector: "node.instance", style: { shape: "ellipse", width: 16, height: 16, "font-size": 10 } },
    { selector: "node.host", style: { shape: "rectangle", width: 28, height: 20 } },
    { selector: "node.network", style: { shape: "hexagon", width: 34, height: 28 } },
    { selector: "node.subnet", style: { shape: "barrel", width: 30, height: 20 } },
    { selector: "node.router", style: { shape: "diamond", width: 24, height: 24 } },
    {
      selector: "node.group",
      style: {
        "background-color": color("group"),
        "background-opacity": 0.5,
        "border-color": border,
        "border-style": "dashed",
        shape: "round-rectangle",
        "text-valign": "top",
        "text-halign": "center",
        "font-size": 14,
        "font-weight": "bold",
        color: muted,
        padding: "16px",
      },
    },
    { selector: "node.group.collapsed", style: { "border-style": "solid", width: 70, height: 44, "background-opacity": 0.9, "background-color": "data(color)", color: fg, "text-valign": "bottom" } },
    { selector: "node:selected, node.match", style: { "border-width": 4, "border-color": accent } },
    {
      selector: "edge",
      style: { width: 1, "line-color": border, "curve-style": "haystack", "haystack-radius": 0, opacity: 0.7 },
    },
    {
      selector: "edge.calls",
      style: {
        width: "mapData(weight, 0, 4, 1.5, 5)",
        "line-color": accent,
        "target-arrow-color": accent,
        "target-arrow-shape": "triangle",
        "curve-style": "bezier",
        opacity: 0.85,
      },
    },
    { selector: "edge.in", style: { opacity: 0.35 } },
    { selector: "edge.link", style: { width: 2, "line-style": "dashed", "line-color": muted } },
    { selector: "edge.meta", style: { "line-style": "dotted" } },
  ];
}

/// Per-entity values for colouring: service utilization and drift from the live twin,
/// error rates from the last five minutes of stored `errors` and `requests`.
async function loadValues(): Promise<Values> {
  const since = Date.now() - 5 * 60_000;
  const q = (m: string) => api<{ points: MetricPoint[] }>(`/api/metrics?metric=${m}&from_ms=${since}&limit=100000`).catch(() => ({ points: [] }));
  const [live, drift, errs, reqs, util] = await Promise.all([
    api<Live>("/api/live").catch(() => null),
    api<Drift>("/api/drift").catch(() => null),
    q("errors"),
    q("requests"),
    q("utilization"),
  ]);
  const v: Values = { utilization: new Map(), errors: new Map(), drift: new Map(), live, drift_doc: drift };
  // Latest bucket's mean utilization per entity (hosts, and services when not live).
  const latest = new Map<string, MetricPoint>();
  for (const p of util.points) {
    const cur = latest.get(p.entity);
    if (!cur || p.bucket_ms > cur.bucket_ms) latest.set(p.entity, p);
  }
  for (const [e, p] of latest) if (p.count > 0) v.utilization.set(e, p.sum / p.count);
  for (const [s, o] of Object.entries(live?.services ?? {})) {
    if (o.utilization !== null) v.utilization.set(`service:${s}`, o.utilization);
  }
  const sum = (pts: MetricPoint[]) => {
    const m = new Map<string, number>();
    for (const p of pts) m.set(p.entity, (m.get(p.entity) ?? 0) + p.sum);
    return m;
  };
  const e = sum(errs.points);
  const r = sum(reqs.points);
  for (const [entity, total] of r) if (total > 0) v.errors.set(entity, (e.get(entity) ?? 0) / total);
  for (const d of drift?.services ?? []) if (d.mape !== null) v.drift.set(`service:${d.service}`, d.mape);
  return v;
}

function valueOf(n: { kind: string; id: string; service?: string }, by: ColorBy, v: Values, threshold: number): number | null {
  const svc = n.service ? `service:${n.service}` : null;
  const pick = (m: Map<string, number>) => m.get(n.id) ?? (svc ? m.get(svc) : undefined) ?? null;
  switch (by) {
    case "utilization":
      return pick(v.utilization);
    case "errors": {
      const e = pick(v.errors);
      return e === null ? null : e / 0.05; // 5 % errors is full red
    }
    case "drift": {
      const d = pick(v.drift);
      return d === null ? null : d / (2 * threshold); // twice the threshold is full red
    }
    default:
      return null;
  }
}

function kindColor(kind: string): string {
  return color(`kind-${kind}`);
}

export function topologyView(root: HTMLElement): () => void {
  const status = h("p", { class: "muted small", id: "topo-status", role: "status" }, "Loading the topology…");
  const err = h("p", { class: "error", role: "alert" });
  const search = h("input", { type: "search", id: "topo-search", placeholder: "Find a node…", "aria-label": "Find a node by name" });
  const groupSel = h(
    "select",
    { id: "topo-group", "aria-label": "Group by" },
    h("option", { value: "none" }, "No grouping"),
    h("option", { value: "zone" }, "Group by zone"),
    h("option", { value: "host" }, "Group by host"),
    h("option", { value: "namespace" }, "Group by namespace"),
  );
  const colorSel = h(
    "select",
    { id: "topo-color", "aria-label": "Colour by" },
    h("option", { value: "kind" }, "Colour by kind"),
    h("option", { value: "utilization" }, "Colour by utilization"),
    h("option", { value: "errors" }, "Colour by error rate"),
    h("option", { value: "drift" }, "Colour by drift"),
  );
  const kindBoxes = KINDS.map((k) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: k, checked: true }), ` ${k}s`),
  );
  const membership = h("input", { type: "checkbox", id: "topo-membership", checked: true });
  const collapseAll = h("button", { type: "button", disabled: true }, "Collapse all");
  const expandAll = h("button", { type: "button", disabled: true }, "Expand all");
  const fit = h("button", { type: "button" }, "Fit");
  const legend = h("div", { class: "legend", "aria-label": "Legend" });
  const details = h("aside", { class: "details", "aria-label": "Details", id: "topo-details" }, h("p", { class: "muted" }, "Select a node, or find one by name, to see its details."));
  const container = h("div", { class: "cy", id: "cy", role: "img", "aria-label": "Topology graph" });
  put(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Topology"), status),
    err,
    h(
      "form",
      { class: "toolbar", onsubmit: (e: Event) => { e.preventDefault(); find(); } },
      search,
      h("button", { type: "submit" }, "Find"),
      groupSel,
      colorSel,
      collapseAll,
      expandAll,
      fit,
      h(
        "fieldset",
        { class: "kinds" },
        h("legend", { class: "sr-only" }, "Show"),
        kindBoxes,
        h("label", { class: "check", title: "Lines from each instance to its service (off by default on large twins)" }, membership, " instance → service lines"),
      ),
    ),
    h("div", { class: "topo" }, container, details),
    legend,
  );

  let cy: Core | null = null;
  let topo: Topology | null = null;
  let values: Values | null = null;
  let stopped = false;
  const collapsed = new Set<string>();
  const by = () => groupSel.value as GroupBy;
  const colorBy = () => colorSel.value as ColorBy;
  const edgeKinds = () => new Set(["calls", "runs-on", "in", "link", ...(membership.checked ? ["part-of"] : [])]);
  const kinds = () => new Set(kindBoxes.map((l) => l.querySelector("input") as HTMLInputElement).filter((i) => i.checked).map((i) => i.value));

  function paint(n: GraphNode): string {
    const mode = colorBy();
    if (mode === "kind") return kindColor(n.kind);
    return heat(values ? valueOf(n, mode, values, values.drift_doc?.threshold_pct ?? 20) : null);
  }

  function rebuild(): void {
    if (!cy || !topo) return;
    const els = buildElements(topo, by(), collapsed, kinds(), paint, edgeKinds());
    const c = cy;
    c.batch(() => {
      c.elements().remove();
      c.add(els);
    });
    recolor();
    collapseAll.disabled = expandAll.disabled = by() === "none";
    say();
  }

  function say(): void {
    if (!cy || !topo) return;
    const shown = cy.nodes().not(".group").length;
    const first = (container.dataset.firstDrawMs ?? "") !== "" ? ` · first drawn in ${container.dataset.firstDrawMs} ms` : "";
    put(status, `Twin version ${topo.twin_version}: ${topo.nodes.length} nodes, ${topo.edges.length} edges (${shown} nodes shown)${first}`);
  }

  function recolor(): void {
    if (!cy || !topo) return;
    const mode = colorBy();
    const threshold = values?.drift_doc?.threshold_pct ?? 20;
    const byId = new Map(topo.nodes.map((n) => [n.id, n]));
    const c = cy;
    c.batch(() => {
      c.nodes().forEach((el) => {
        const kind = el.data("kind") as string;
        if (kind === "group") {
          if (!el.hasClass("collapsed")) return;
          // A collapsed group shows its hottest member.
          const g = el.data("name") as string;
          let worst: number | null = null;
          for (const n of topo!.nodes) {
            if (groupOf(n, by()) !== g) continue;
            const x = values ? valueOf(n, mode, values, threshold) : null;
            if (x !== null && (worst === null || x > worst)) worst = x;
          }
          el.data("color", mode === "kind" ? color("group-solid") : heat(worst));
          return;
        }
        const n = byId.get(el.id());
        if (!n) return;
        el.data("color", mode === "kind" ? kindColor(kind) : heat(values ? valueOf(n, mode, values, threshold) : null));
      });
    });
    renderLegend(mode, threshold);
  }

  function renderLegend(mode: ColorBy, threshold: number): void {
    if (mode === "kind") {
      put(legend, KINDS.map((k) => h("span", { class: "key" }, h("i", { style: `background:${kindColor(k)}` }), k)));
      return;
    }
    const [lo, hi] =
      mode === "utilization" ? ["0 %", "100 % busy"] : mode === "errors" ? ["0 %", "≥ 5 % errors"] : ["0 %", `≥ ${2 * threshold} % drift`];
    put(
      legend,
      h("span", { class: "key" }, lo),
      h("span", { class: "ramp", "aria-hidden": "true" }),
      h("span", { class: "key" }, hi),
      h("span", { class: "key" }, h("i", { style: `background:${color("nodata")}` }), "no data"),
    );
  }

  function find(): void {
    if (!cy) return;
    const q = search.value.trim().toLowerCase();
    cy.elements(".match").removeClass("match");
    if (!q) return;
    const hits = cy.nodes().filter((n) => String(n.data("name")).toLowerCase().includes(q));
    if (hits.length === 0) {
      put(status, `No node matches “${search.value}”.`);
      return;
    }
    hits.addClass("match");
    cy.animate({ fit: { eles: hits, padding: 80 } }, { duration: 250 });
    showDetails(hits[0] as NodeSingular);
    put(status, `${hits.length} node${hits.length > 1 ? "s" : ""} match “${search.value}”.`);
  }

  function showDetails(el: NodeSingular): void {
    if (!topo) return;
    const kind = el.data("kind") as string;
    const name = el.data("name") as string;
    if (kind === "group") {
      const g = name;
      const isCollapsed = collapsed.has(g);
      put(
        details,
        h("h2", {}, `${by()} ${g}`),
        h("p", {}, `${el.data("members") ?? el.children().length} members`),
        h(
          "button",
          {
            type: "button",
            onclick: () => {
              if (isCollapsed) collapsed.delete(g);
              else collapsed.add(g);
              rebuild();
            },
          },
          isCollapsed ? "Expand" : "Collapse",
        ),
      );
      return;
    }
    const n = topo.nodes.find((x) => x.id === el.id());
    if (!n) return;
    const rows: [string, Node | string][] = [["Kind", n.kind]];
    if (n.zone) rows.push(["Zone", n.zone]);
    if (n.host && n.kind !== "host") rows.push(["Host", n.host]);
    if (n.namespace) rows.push(["Namespace", n.namespace]);
    if (n.service && n.kind !== "service") rows.push(["Service", h("a", { href: `#/service/${encodeURIComponent(n.service)}` }, n.service)]);
    const svc = n.service;
    if (svc) {
      const o = values?.live?.services[svc];
      const d = values?.drift_doc?.services.find((x) => x.service === svc);
      if (o) {
        rows.push(["Rate (live)", `${num(o.rps)}/s`]);
        rows.push(["Latency (live)", ms(o.latency_ms)]);
        rows.push(["Utilization (live)", pct(o.utilization)]);
      }
      if (d) rows.push(["Drift", `${num(d.mape, 1)} %`]);
      const e = values?.errors.get(`service:${svc}`);
      if (e !== undefined) rows.push(["Error rate", pct(e, 2)]);
    }
    const out = topo.edges.filter((e) => e.source === n.id && e.kind === "calls").map((e) => e.target.replace(/^service:/, ""));
    const inc = topo.edges.filter((e) => e.target === n.id && e.kind === "calls").map((e) => e.source.replace(/^service:/, ""));
    const link = (s: string) => h("a", { href: `#/service/${encodeURIComponent(s)}` }, s);
    const list = (xs: string[]) => (xs.length ? h("ul", {}, xs.map((s) => h("li", {}, link(s)))) : h("p", { class: "muted" }, "none"));
    const onHost = n.kind === "host" ? topo.nodes.filter((x) => x.kind === "instance" && x.host === n.name) : [];
    put(
      details,
      h("h2", {}, name),
      table(["", ""], rows.map(([k, v]) => [k, v])),
      n.kind === "service" ? [h("h3", {}, "Calls"), list(out), h("h3", {}, "Called by"), list(inc)] : null,
      n.kind === "host" ? [h("h3", {}, `Instances (${onHost.length})`), h("ul", {}, onHost.map((x) => h("li", {}, x.name)))] : null,
      svc ? h("p", {}, h("a", { class: "button", href: `#/service/${encodeURIComponent(svc)}` }, `Open ${svc} →`)) : null,
    );
  }

  groupSel.addEventListener("change", () => {
    collapsed.clear();
    rebuild();
    cy?.fit(undefined, 30);
  });
  colorSel.addEventListener("change", recolor);
  kindBoxes.forEach((l) => l.querySelector("input")?.addEventListener("change", rebuild));
  membership.addEventListener("change", rebuild);
  collapseAll.addEventListener("click", () => {
    if (!topo) return;
    for (const n of topo.nodes) {
      const g = groupOf(n, by());
      if (g !== undefined) collapsed.add(g);
    }
    rebuild();
    cy?.fit(undefined, 30);
  });
  expandAll.addEventListener("click", () => {
    collapsed.clear();
    rebuild();
    cy?.fit(undefined, 30);
  });
  fit.addEventListener("click", () => cy?.fit(undefined, 30));
  const onTheme = () => {
    if (!cy) return;
    cy.style(style());
    recolor();
  };
  window.addEventListener("doppel-theme", onTheme);

  (async () => {
    try {
      topo = await api<Topology>("/api/twin/graph");
      if (stopped) return;
      const big = topo.nodes.length > 800;
      // On large twins the instance-to-service lines are a haze: off until asked for.
      membership.checked = !big;
      const t0 = performance.now();
      cy = cytoscape({
        container,
        elements: buildElements(topo, "none", collapsed, kinds(), paint, edgeKinds()),
        layout: { name: "preset", fit: true, padding: 30 },
        style: style(),
        minZoom: 0.02,
        maxZoom: 4,
        textureOnViewport: true,
        hideEdgesOnViewport: true,
        motionBlur: false,
        pixelRatio: big ? 1 : "auto",
        boxSelectionEnabled: false,
      });
      const c = cy;
      container.dataset.buildMs = String(Math.round(performance.now() - t0));
      renderLegend(colorBy(), 20);
      c.one("render", () => {
        const first = Math.round(performance.now() - t0);
        container.dataset.firstDrawMs = String(first);
        container.dataset.nodes = String(c.nodes().not(".group").length);
        (window as unknown as { __doppelTopology: unknown }).__doppelTopology = { nodes: c.nodes().length, edges: c.edges().length, firstDrawMs: first };
        say();
      });
      c.on("tap", "node", (e: EventObject) => showDetails(e.target as NodeSingular));
      say();
      values = await loadValues();
      if (!stopped) recolor();
    } catch (e) {
      err.textContent = `Could not load the topology: ${(e as ApiError).message}`;
    }
  })();
  const timer = window.setInterval(async () => {
    if (colorBy() === "kind" || stopped) return;
    values = await loadValues().catch(() => values);
    if (!stopped) recolor();
  }, 10_000);

  return () => {
    stopped = true;
    window.clearInterval(timer);
    window.removeEventListener("doppel-theme", onTheme);
    cy?.destroy();
  };
}
