// Dark and light themes: CSS variables switched by `data-theme` on <html>; the choice is
// remembered in localStorage, and the system's preference is the default. Charts and the
// graph read the colours through `color()`.

export type Theme = "dark" | "light";

export function currentTheme(): Theme {
  const saved = localStorage.getItem("doppel.theme");
  if (saved === "dark" || saved === "light") return saved;
  return matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
}

export function applyTheme(t: Theme): void {
  document.documentElement.dataset.theme = t;
  cache.clear();
}

const cache = new Map<string, string>();
window.addEventListener("doppel-theme", () => cache.clear(), { capture: true });

export function toggleTheme(): Theme {
  const t: Theme = currentTheme() === "dark" ? "light" : "dark";
  localStorage.setItem("doppel.theme", t);
  applyTheme(t);
  return t;
}

/// A theme colour by its CSS variable name (without `--`).
export function color(name: string): string {
  let c = cache.get(name);
  if (c === undefined) {
    c = getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";
    cache.set(name, c);
  }
  return c;
}

/// Green to amber to red for a value in [0, 1] (clamped); grey for no value.
export function heat(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return color("nodata");
  const x = Math.max(0, Math.min(1, v));
  // Hue 140 (green) to 0 (red), through amber.
  const hue = 140 * (1 - x);
  const light = currentTheme() === "dark" ? 52 : 42;
  return `hsl(${hue.toFixed(0)}, 70%, ${light}%)`;
}
