// Security: what an attacker could do with what the twin knows (`/api/security/attack`): the
// attack paths drawn over the hosts they cross (cytoscape, laid out breadth-first from where
// the attacker starts, the most likely path highlighted), the targets, every path with its
// steps and MITRE ATT&CK techniques, the mitigations ranked by paths cut per cost, and the
// attack over time against detection (Monte Carlo). A form asks whether one flow is allowed
// and which rule decides (`/api/security/reach`); another what an attacker holding one host
// could go on to reach (`/api/security/blast`; tapping a host in the graph asks for it).

import cytoscape from "cytoscape";
import type { Core, ElementDefinition } from "cytoscape";
import { api, ApiError } from "../api";
import { badge, h, panel, put, table } from "../dom";
import { num, pct } from "../format";
import { color } from "../theme";

export interface Step {
  host: string;
  technique: string | null;
  name: string;
  via: string;
  probability: number;
  needs: string[];
  gives: string;
}
export interface AttackPath {
  target: string;
  steps: Step[];
  probability: number;
  attack_steps: number;
}
export interface Mitigation {
  action: string;
  cost: number;
  paths_cut: number;
  paths_left: number;
  targets_still_reachable: string[];
}
interface Interval {
  mean: number;
  p50: number;
  p90: number;
  mean_ci95: [number, number];
  p50_ci95: [number, number];
  p90_ci95: [number, number];
}
interface SimResult {
  what_if: string[];
  p_compromise: number;
  p_compromise_ci95: [number, number];
  p_detected: number;
  time_to_compromise_hours: Interval | null;
  techniques: { technique: string; attempts: number; detections: number }[];
}
interface Simulation extends SimResult {
  runs: number;
  seed: number;
  paths: number;
  baseline?: SimResult | null;
}
export interface AttackReport {
  twin_version: number;
  from: string[];
  to: string;
  reachable_targets: string[];
  unreachable_targets: string[];
  paths: AttackPath[];
  paths_truncated: boolean;
  most_likely: number | null;
  mitigations: Mitigation[];
  mitigation_set: { method: string; total_cost: number; greedy_cost: number; paths_left: number; targets_still_reachable: string[] };
  single_fixes: Mitigation[];
  graph_facts: number;
  graph_derivations: number;
  simulation: Simulation | null;
}
interface BlastRadius {
  twin_version: number;
  from: string;
  root: string[];
  user: string[];
  data: string[];
  credentials: string[];
  value_at_risk: number;
}
interface Reason {
  check: string;
  pass: boolean;
  detail: string;
}
interface ReachAnswer {
  src: string;
  dst: string;
  port: number | null;
  verdict: "allowed" | "denied" | "mixed" | "none";
  allowed_flows: number;
  flows: { flow: string; allowed: boolean; decided_by: { check: string; detail: string; rule: string | null } | null; reasons: Reason[] }[];
}

/// The node a step acts on.
const hostId = (host: string) => `host:${host}`;

/// Nodes and edges of the attack paths: where the attacker starts, the hosts the paths
/// cross, the targets; an edge wherever a path moves from one to the next, labelled with the
/// technique of the step that moves (or `reach`/`relay`), remembering which paths use it.
export function attackElements(r: AttackReport): ElementDefinition[] {
  const nodes = new Map<string, { label: string; role: string }>();
  const edges = new Map<string, { source: string; target: string; label: string; paths: number[] }>();
  const start = `start:${r.from.join(",")}`;
  nodes.set(start, { label: r.from.join(", "), role: "start" });
  const edge = (s: string, t: string, label: string, i: number) => {
    const key = `${s}>${t}>${label}`;
    const e = edges.get(key) ?? { source: s, target: t, label, paths: [] };
    if (!e.paths.includes(i)) e.paths.push(i);
    edges.set(key, e);
  };
  r.paths.forEach((p, i) => {
    let prev = start;
    let last = "";
    for (const s of p.steps) {
      const id = hostId(s.host);
      if (!nodes.has(id)) nodes.set(id, { label: s.host, role: "host" });
      last = s.technique ?? s.name;
      if (id !== prev) edge(prev, id, last, i);
      prev = id;
    }
    const target = `target:${p.target}`;
    nodes.set(target, { label: p.target, role: "target" });
    edge(prev, target, last, i);
  });
  const likely = r.most_likely;
  const onLikely = new Set<string>();
  const out: ElementDefinition[] = [];
  let n = 0;
  for (const e of edges.values()) {
    const isLikely = likely !== null && e.paths.includes(likely);
    if (isLikely) {
      onLikely.add(e.source);
      onLikely.add(e.target);
    }
    out.push({
      group: "edges",
      data: { id: `e${n++}`, source: e.source, target: e.target, label: e.label, paths: e.paths.join(",") },
      classes: isLikely ? "likely" : "",
    });
  }
  for (const [id, v] of nodes) {
    out.unshift({ group: "nodes", data: { id, label: v.label, role: v.role }, classes: `${v.role}${onLikely.has(id) ? " likely" : ""}` });
  }
  return out;
}

function graphStyle(): cytoscape.StylesheetJson {
  const fg = color("fg");
  const border = color("border");
  const bad = color("bad");
  const warn = color("warn");
  const accent = color("accent");
  return [
    {
      selector: "node",
      style: {
        label: "data(label)",
        color: fg,
        "font-size": 12,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "background-color": color("kind-host"),
        shape: "rectangle",
        width: 30,
        height: 22,
        "border-width": 1,
        "border-color": border,
      },
    },
    { selector: "node.start", style: { shape: "ellipse", "background-color": accent, width: 30, height: 30 } },
    { selector: "node.target", style: { shape: "star", "background-color": bad, width: 34, height: 34 } },
    { selector: "node.likely", style: { "border-width": 3, "border-color": bad } },
    { selector: "node.dim, edge.dim", style: { opacity: 0.25 } },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "line-color": border,
        "target-arrow-color": border,
        "target-arrow-shape": "triangle",
        "curve-style": "bezier",
        label: "data(label)",
        "font-size": 10,
        color: fg,
        "text-background-color": color("panel"),
        "text-background-opacity": 0.85,
        "text-background-padding": "2px",
        "text-rotation": "autorotate",
      },
    },
    { selector: "edge.likely", style: { width: 4, "line-color": bad, "target-arrow-color": bad } },
    { selector: "edge.selected", style: { width: 4, "line-color": warn, "target-arrow-color": warn, "line-style": "dashed" } },
  ];
}

function interval(ci: [number, number], f: (v: number) => string): string {
  return `[${f(ci[0])}, ${f(ci[1])}]`;
}

function stat(label: string, value: string, cls = "", id?: string): HTMLElement {
  return h("div", { class: `stat ${cls}`, id }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, label));
}

const hours = (v: number) => `${num(v, 1)} h`;

export function securityView(root: HTMLElement): () => void {
  const status = h("p", { class: "muted small", id: "sec-status", role: "status" }, "Analysing the twin…");
  const err = h("p", { class: "error", role: "alert" });
  const from = h("input", { id: "sec-from", value: "internet", "aria-label": "Attacker starts from", size: 14 });
  const to = h("input", { id: "sec-to", value: "tag:crown-jewel", "aria-label": "Attacker aims at", size: 18 });
  const whatIf = h("input", { id: "sec-what-if", placeholder: "edr:tier=web, patch:7d", "aria-label": "What-ifs for the attack over time", size: 22 });
  const stats = h("div", { class: "stats", id: "sec-stats" });
  const container = h("div", { class: "cy sec-cy", id: "sec-cy", role: "img", "aria-label": "Attack paths over hosts" });
  const legend = h("div", { class: "legend" });
  const pathsBox = h("div", { id: "sec-paths" });
  const stepsBox = h("div", { id: "sec-steps" });
  const fixesBox = h("div", { id: "sec-fixes" });
  const simBox = h("div", { id: "sec-sim" });
  const reachSrc = h("input", { id: "reach-src", value: "internet", placeholder: "internet, an address, a host or service", "aria-label": "Flow from" });
  const reachDst = h("input", { id: "reach-dst", placeholder: "a host or service", "aria-label": "Flow to" });
  const reachPort = h("input", { id: "reach-port", type: "number", min: 1, max: 65535, placeholder: "every port", "aria-label": "Port" });
  const reachOut = h("div", { id: "reach-result", "aria-live": "polite" });
  const blastHost = h("input", { id: "blast-host", placeholder: "a host, or tap one in the graph", "aria-label": "Compromised host" });
  const blastOut = h("div", { id: "blast-result", "aria-live": "polite" });

  put(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Security"), status),
    err,
    h(
      "form",
      { class: "toolbar", onsubmit: (e: Event) => { e.preventDefault(); load(); } },
      h("label", { class: "check" }, "From ", from),
      h("label", { class: "check" }, "to ", to),
      h("label", { class: "check", title: "Changes to the defense, simulated beside the baseline: edr:tier=NAME, edr:tag:NAME[=P], patch:7d, response:2h, detect:T1068=0.5" }, "what if ", whatIf),
      h("button", { type: "submit", class: "primary", id: "sec-run" }, "Analyse"),
    ),
    stats,
    h(
      "div",
      { class: "grid two" },
      panel("Attack paths over hosts", container, legend),
      panel("Paths", pathsBox, stepsBox),
    ),
    h(
      "div",
      { class: "grid two", style: "margin-top:1rem" },
      panel("Mitigations", fixesBox),
      h(
        "div",
        { class: "grid" },
        panel("Attack over time", simBox),
        panel(
          "Is this flow allowed?",
          h(
            "form",
            { class: "form-grid", id: "reach-form", onsubmit: (e: Event) => { e.preventDefault(); reach(); } },
            h("label", {}, "From", reachSrc),
            h("label", {}, "To", reachDst),
            h("label", {}, "Port", reachPort),
            h("div", { class: "row", style: "align-items:end" }, h("button", { type: "submit", id: "reach-run" }, "Check")),
          ),
          reachOut,
        ),
        panel(
          "Blast radius of a compromised host",
          h(
            "form",
            { class: "form-grid", id: "blast-form", onsubmit: (e: Event) => { e.preventDefault(); blast(); } },
            h("label", {}, "Host", blastHost),
            h("div", { class: "row", style: "align-items:end" }, h("button", { type: "submit", id: "blast-run" }, "Show")),
          ),
          blastOut,
        ),
      ),
    ),
  );

  let cy: Core | null = null;
  let report: AttackReport | null = null;
  let stopped = false;
  let selected: number | null = null;

  function draw(r: AttackReport): void {
    cy?.destroy();
    const els = attackElements(r);
    const start = `start:${r.from.join(",")}`;
    cy = cytoscape({
      container,
      elements: els,
      style: graphStyle(),
      // Breadth-first from the attacker's start, turned to run left to right.
      layout: {
        name: "breadthfirst",
        directed: true,
        roots: [start],
        spacingFactor: 1.1,
        padding: 30,
        transform: (_n: unknown, p: { x: number; y: number }) => ({ x: p.y, y: p.x }),
      } as cytoscape.LayoutOptions,
      minZoom: 0.1,
      maxZoom: 3,
      boxSelectionEnabled: false,
    });
    container.dataset.nodes = String(cy.nodes().length);
    container.dataset.edges = String(cy.edges().length);
    container.dataset.hosts = String(cy.nodes(".host").length);
    cy.on("tap", "node.host", (e) => {
      blastHost.value = String(e.target.data("label"));
      blast();
    });
    cy.on("tap", "edge", (e) => {
      const paths = String(e.target.data("paths")).split(",").map(Number);
      if (paths.length) select(paths[0]);
    });
    put(
      legend,
      h("span", { class: "key" }, h("i", { style: `background:${color("accent")}` }), "attacker"),
      h("span", { class: "key" }, h("i", { style: `background:${color("kind-host")}` }), "host"),
      h("span", { class: "key" }, h("i", { style: `background:${color("bad")}` }), "target; thick red: most likely path"),
      h("span", { class: "key" }, h("i", { style: `background:${color("warn")}` }), "selected path"),
    );
  }

  function select(i: number | null): void {
    selected = i;
    if (cy) {
      const c = cy;
      c.batch(() => {
        c.elements().removeClass("selected dim");
        if (i === null) return;
        const on = c.edges().filter((e) => String(e.data("paths")).split(",").map(Number).includes(i));
        // The most likely path keeps its red; another selected path is drawn amber.
        if (i !== report?.most_likely) on.addClass("selected");
        c.elements().not(on).not(on.connectedNodes()).addClass("dim");
      });
    }
    pathsBox.querySelectorAll("tr[data-path]").forEach((tr) => tr.setAttribute("aria-selected", String(Number(tr.getAttribute("data-path")) === i)));
    renderSteps();
  }

  function renderSteps(): void {
    if (!report || selected === null) {
      put(stepsBox, h("p", { class: "muted small" }, "Select a path to see its steps."));
      return;
    }
    const p = report.paths[selected];
    put(
      stepsBox,
      h("h3", {}, `Path ${selected + 1} to ${p.target}: p = ${num(p.probability, 3)}`),
      table(
        ["#", "Host", "Technique", "Via", "p"],
        p.steps.map((s, k) => [
          String(k + 1),
          h("span", { class: "nowrap" }, s.host),
          s.technique ? h("span", { title: s.name }, h("code", {}, s.technique), ` ${s.name}`) : h("span", { class: "muted" }, s.name),
          h("span", { class: "small" }, s.via, h("br", {}), h("span", { class: "muted" }, `⇒ ${s.gives}`)),
          num(s.probability, 3),
        ]),
      ),
    );
  }

  function render(r: AttackReport): void {
    report = r;
    const sim = r.simulation;
    const ml = r.most_likely !== null ? r.paths[r.most_likely] : null;
    put(
      stats,
      stat("attack paths", `${r.paths.length}${r.paths_truncated ? "+" : ""}`, r.paths.length ? "bad" : "ok", "sec-path-count"),
      stat("targets reachable", `${r.reachable_targets.length} of ${r.reachable_targets.length + r.unreachable_targets.length}`, r.reachable_targets.length ? "bad" : "ok"),
      stat("most likely path", ml ? `p = ${num(ml.probability, 3)}` : "none"),
      stat("cheapest fix set", r.mitigations.length ? `cost ${num(r.mitigation_set.total_cost, 0)}` : "nothing to fix"),
      sim ? stat(sim.baseline ? `p(compromise) over time with ${sim.what_if.join(", ")}` : "p(compromise) over time", pct(sim.p_compromise), sim.p_compromise > 0 ? "bad" : "ok", "sec-p-compromise") : null,
      sim?.time_to_compromise_hours ? stat("time to compromise, median", hours(sim.time_to_compromise_hours.p50)) : null,
    );
    put(
      status,
      `Twin version ${r.twin_version}: from ${r.from.join(", ")} to ${r.to}; attack graph of ${r.graph_facts} facts, ${r.graph_derivations} derivations. ` +
        `Reachable: ${r.reachable_targets.join(", ") || "none"}` +
        (r.unreachable_targets.length ? `; out of reach: ${r.unreachable_targets.join(", ")}` : ""),
    );
    draw(r);
    if (r.paths.length === 0) {
      put(pathsBox, h("p", {}, badge("ok", "no path"), ` No attack path from ${r.from.join(", ")} reaches ${r.to}.`));
    } else {
      const t = table(
        ["#", "Target", "p", "Attack steps", "Route", ""],
        r.paths.map((p, i) => {
          const hosts: string[] = [];
          for (const s of p.steps) if (hosts[hosts.length - 1] !== s.host) hosts.push(s.host);
          const techniques = p.steps.filter((s) => s.technique).map((s) => s.technique);
          return [
            String(i + 1),
            p.target,
            num(p.probability, 3),
            String(p.attack_steps),
            h("span", { class: "small" }, `${r.from.join(", ")} → ${hosts.join(" → ")}`, h("br", {}), h("span", { class: "muted" }, techniques.join(", "))),
            h("button", { type: "button", class: "small", "aria-label": `Show path ${i + 1}`, onclick: () => select(i) }, i === r.most_likely ? "Show (most likely)" : "Show"),
          ];
        }),
      );
      t.id = "sec-paths-table";
      t.querySelectorAll("tbody tr").forEach((tr, i) => tr.setAttribute("data-path", String(i)));
      put(pathsBox, t);
    }
    // Mitigations: the cheapest set, then every single fix by paths cut per cost.
    const fixRow = (m: Mitigation) => [
      m.action,
      num(m.cost, 0),
      `${m.paths_cut} / ${r.paths.length}`,
      num(m.paths_cut / m.cost, 2),
      m.targets_still_reachable.length ? m.targets_still_reachable.join(", ") : badge("ok", "none"),
    ];
    const single = table(["Fix", "Cost", "Paths cut", "Cut per cost", "Still reachable after"], r.single_fixes.map(fixRow));
    single.id = "sec-fixes-table";
    put(
      fixesBox,
      r.mitigations.length
        ? [
            h(
              "p",
              {},
              `Cheapest set that cuts every path (${r.mitigation_set.method}, cost ${num(r.mitigation_set.total_cost, 0)}; greedy would cost ${num(r.mitigation_set.greedy_cost, 0)}), re-verified: ${r.mitigation_set.paths_left} paths left.`,
            ),
            h("ol", { id: "sec-fix-set" }, r.mitigations.map((m) => h("li", {}, h("strong", {}, m.action), ` (cost ${num(m.cost, 0)}, alone cuts ${m.paths_cut} of ${r.paths.length})`))),
            h("h3", {}, "Every single fix, ranked by paths cut per cost"),
            single,
          ]
        : h("p", { class: "muted" }, "No path to cut."),
    );
    if (!sim) {
      put(simBox, h("p", { class: "muted" }, "Not simulated."));
    } else {
      // One row per figure: the value (with its interval), and the baseline beside it when
      // what-ifs were asked for.
      const base = sim.baseline ?? null;
      const figures: [string, (x: SimResult) => string, (x: SimResult) => string][] = [
        ["p(compromise)", (x) => pct(x.p_compromise), (x) => interval(x.p_compromise_ci95, (v) => pct(v))],
        ["p(detected first)", (x) => pct(x.p_detected), () => ""],
        ["time to compromise, mean", (x) => (x.time_to_compromise_hours ? hours(x.time_to_compromise_hours.mean) : "never"), (x) => (x.time_to_compromise_hours ? interval(x.time_to_compromise_hours.mean_ci95, hours) : "")],
        ["time to compromise, median", (x) => (x.time_to_compromise_hours ? hours(x.time_to_compromise_hours.p50) : "never"), (x) => (x.time_to_compromise_hours ? interval(x.time_to_compromise_hours.p50_ci95, hours) : "")],
        ["time to compromise, p90", (x) => (x.time_to_compromise_hours ? hours(x.time_to_compromise_hours.p90) : "never"), (x) => (x.time_to_compromise_hours ? interval(x.time_to_compromise_hours.p90_ci95, hours) : "")],
      ];
      const simTable = base
        ? table(
            ["", "Baseline", `With ${sim.what_if.join(", ")}`, "95 % interval"],
            figures.map(([label, v, ci]) => [label, v(base), h("strong", {}, v(sim)), ci(sim)]),
          )
        : table(["", "Value", "95 % interval"], figures.map(([label, v, ci]) => [label, v(sim), ci(sim)]));
      simTable.id = "sec-sim-table";
      put(
        simBox,
        h("p", { class: "small muted" }, `${sim.runs} Monte Carlo runs (seed ${sim.seed}) of an attacker taking the ${sim.paths} paths step by step against the default detection and a 4 h response.`),
        simTable,
        h("h3", {}, "Techniques tried"),
        table(
          ["Technique", "Attempts", "Detected"],
          sim.techniques.map((c) => [h("code", {}, c.technique), String(c.attempts), `${c.detections} (${pct(c.attempts ? c.detections / c.attempts : 0)})`]),
        ),
      );
    }
    select(r.most_likely);
  }

  async function load(): Promise<void> {
    err.textContent = "";
    put(status, "Analysing the twin…");
    try {
      const q = new URLSearchParams({ from: from.value.trim() || "internet", to: to.value.trim() || "tag:crown-jewel" });
      const w = whatIf.value
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
        .join(",");
      if (w) q.set("what_if", w);
      const r = await api<AttackReport>(`/api/security/attack?${q}`);
      if (stopped) return;
      render(r);
      if (!reachDst.value && r.reachable_targets.length) reachDst.value = r.reachable_targets[0];
    } catch (e) {
      err.textContent = `Could not analyse: ${(e as ApiError).message}`;
      put(status, "");
    }
  }

  async function reach(): Promise<void> {
    put(reachOut, h("p", { class: "muted small" }, "Checking…"));
    try {
      const q = new URLSearchParams({ src: reachSrc.value.trim(), dst: reachDst.value.trim() });
      if (reachPort.value) q.set("port", reachPort.value);
      const a = await api<ReachAnswer>(`/api/security/reach?${q}`);
      if (stopped) return;
      const state = a.verdict === "allowed" ? "ok" : a.verdict === "denied" ? "bad" : "warn";
      put(
        reachOut,
        h("p", { id: "reach-verdict" }, badge(state, a.verdict), ` ${a.src} → ${a.dst}${a.port ? `:${a.port}` : ""}: ${a.allowed_flows} of ${a.flows.length} flows allowed`),
        table(
          ["Flow", "Verdict", "Decided by", "Checks"],
          a.flows.map((f) => [
            h("span", { class: "small" }, f.flow),
            badge(f.allowed ? "ok" : "bad", f.allowed ? "allowed" : "denied"),
            f.decided_by ? h("span", {}, f.decided_by.rule ? h("code", {}, f.decided_by.rule) : h("code", {}, f.decided_by.check), ` ${f.decided_by.detail}`) : "–",
            h("ul", { class: "small" }, f.reasons.map((r) => h("li", {}, `${r.pass ? "ok" : "DENY"} ${r.check}: ${r.detail}`))),
          ]),
        ),
      );
    } catch (e) {
      put(reachOut, h("p", { class: "error" }, (e as ApiError).message));
    }
  }

  async function blast(): Promise<void> {
    const host = blastHost.value.trim();
    if (!host) return;
    put(blastOut, h("p", { class: "muted small" }, "Analysing…"));
    try {
      const b = await api<BlastRadius>(`/api/security/blast?${new URLSearchParams({ host })}`);
      if (stopped) return;
      const others = b.root.length + b.user.length - 1;
      const list = (xs: string[]) => (xs.length ? xs.join(", ") : h("span", { class: "muted" }, "none"));
      put(
        blastOut,
        h(
          "div",
          { class: "stats", id: "blast-stats" },
          stat("other hosts reached", String(Math.max(0, others)), others > 0 ? "bad" : "ok", "blast-hosts"),
          stat("services' data exposed", String(b.data.length), b.data.length ? "bad" : "ok"),
          stat("credentials taken", String(b.credentials.length), b.credentials.length ? "warn" : "ok"),
          stat("value at risk", num(b.value_at_risk, 0)),
        ),
        table(
          [`Reached from ${b.from}`, ""],
          [
            ["root on", list(b.root)],
            ["user on", list(b.user)],
            ["data of", list(b.data)],
            ["credentials", list(b.credentials)],
          ],
        ),
      );
    } catch (e) {
      put(blastOut, h("p", { class: "error" }, (e as ApiError).message));
    }
  }

  const onTheme = () => {
    if (cy) cy.style(graphStyle());
  };
  window.addEventListener("doppel-theme", onTheme);
  load();
  return () => {
    stopped = true;
    window.removeEventListener("doppel-theme", onTheme);
    cy?.destroy();
  };
}
