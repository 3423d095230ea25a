// Time-series charts with uPlot, themed from the CSS variables and redrawn when the theme
// changes or the element is resized. Vertical marks (scenario events, recalibrations) are
// drawn in a draw hook.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import { color } from "./theme";

export interface SeriesSpec {
  label: string;
  color: string; // a theme variable name, e.g. "series-1"
  dash?: boolean;
  width?: number;
}

export interface ChartSpec {
  title: string;
  unit: string;
  series: SeriesSpec[];
  /// x (seconds: Unix time when `time`, else simulated seconds) then one array per series.
  data: (number | null)[][];
  time: boolean;
  /// Unit of the x axis when not `time` (default `s`).
  xUnit?: string;
  marks?: { t: number; label: string }[];
  height?: number;
}

const live = new Set<Chart>();
window.addEventListener("doppel-theme", () => live.forEach((c) => c.redraw()));

export class Chart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private body: HTMLElement;
  private observer: ResizeObserver;
  constructor(
    private spec: ChartSpec,
  ) {
    this.body = h("div", { class: "chart-body" });
    this.el = h(
      "figure",
      { class: "chart", "aria-label": spec.title },
      h("figcaption", { class: "chart-title" }, spec.title, spec.unit ? h("span", { class: "muted small" }, ` (${spec.unit})`) : null),
      this.body,
    );
    this.observer = new ResizeObserver(() => {
      const w = this.width();
      if (this.plot && Math.abs(this.plot.width - w) > 4) this.plot.setSize({ width: w, height: this.spec.height ?? 220 });
    });
    this.observer.observe(this.el);
    live.add(this);
    this.count();
    requestAnimationFrame(() => this.redraw());
  }

  /// Values per series, on the element (`data-points="12,9"`): what tests and people can check.
  private count(): void {
    this.el.dataset.points = this.spec.data
      .slice(1)
      .map((col) => col.filter((v) => v !== null && Number.isFinite(v)).length)
      .join(",");
  }

  private width(): number {
    return Math.max(280, this.el.clientWidth - 12);
  }

  set(data: (number | null)[][], marks?: { t: number; label: string }[]): void {
    this.spec = { ...this.spec, data, marks: marks ?? this.spec.marks };
    this.count();
    if (this.plot) this.plot.setData(data as uPlot.AlignedData);
    else this.redraw();
  }

  redraw(): void {
    if (!this.el.isConnected) {
      if (this.plot) this.destroy();
      return;
    }
    this.plot?.destroy();
    const fg = color("muted");
    const grid = color("grid");
    const marks = () => this.spec.marks ?? [];
    // Few values: show them as points too (a line needs two), and give a single instant a
    // minute either side instead of a degenerate scale.
    const few = (this.spec.data[0]?.length ?? 0) <= 40;
    const opts: uPlot.Options = {
      width: this.width(),
      height: this.spec.height ?? 220,
      scales: {
        x: {
          time: this.spec.time,
          range: (_u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]),
        },
      },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: this.spec.time ? undefined : (_u, v) => v.map((x) => `${x} ${this.spec.xUnit ?? "s"}`) },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 60 },
      ],
      series: [
        { label: this.spec.time ? "time" : "t" },
        ...this.spec.series.map((s) => ({
          label: s.label,
          stroke: color(s.color),
          width: s.width ?? 2,
          dash: s.dash ? [6, 4] : undefined,
          spanGaps: true,
          points: { show: few, size: 5 },
        })),
      ],
      hooks: {
        draw: [
          (u: uPlot) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = color("warn");
            ctx.fillStyle = color("warn");
            ctx.setLineDash([4, 4]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            for (const m of marks()) {
              const x = u.valToPos(m.t, "x", true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(m.label, x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
            }
            ctx.restore();
          },
        ],
      },
    };
    this.plot = new uPlot(opts, this.spec.data as uPlot.AlignedData, this.body);
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = null;
    live.delete(this);
  }
}

/// Aligns series sampled at different times onto one x axis (missing values null).
export function align(...tables: [number[], (number | null)[]][]): (number | null)[][] {
  const xs = [...new Set(tables.flatMap(([x]) => x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const out: (number | null)[][] = [xs];
  for (const [x, y] of tables) {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    x.forEach((t, i) => (col[index.get(t)!] = y[i]));
    out.push(col);
  }
  return out;
}
