// Number and time formatting shared by the views.

export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(digits);
}

export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return (v * 100).toFixed(digits) + " %";
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  return num(v) + " ms";
}

export function when(msSinceEpoch: number | null | undefined): string {
  if (!msSinceEpoch) return "–";
  const d = new Date(msSinceEpoch);
  const ago = (Date.now() - msSinceEpoch) / 1000;
  let rel: string;
  if (ago < 0) rel = "just now";
  else if (ago < 60) rel = `${Math.round(ago)} s ago`;
  else if (ago < 3600) rel = `${Math.round(ago / 60)} min ago`;
  else if (ago < 86400) rel = `${Math.round(ago / 3600)} h ago`;
  else rel = d.toLocaleDateString();
  return rel;
}

export function stamp(msSinceEpoch: number | null | undefined): string {
  if (!msSinceEpoch) return "–";
  return new Date(msSinceEpoch).toLocaleString();
}
