// The public HTTP API, with the bearer token kept in sessionStorage (gone when the tab
// closes). Every call goes through `api`, which turns HTTP errors into `ApiError`s carrying
// the server's message, and a 401 into a return to the login screen.

const TOKEN_KEY = "doppel.token";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public diagnostics: string[] = [],
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized: () => void = () => {};
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

export async function raw(path: string, init: RequestInit = {}, tok = token()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (tok) headers.set("Authorization", `Bearer ${tok}`);
  let resp: Response;
  try {
    resp = await fetch(path, { ...init, headers });
  } catch (e) {
    throw new ApiError(0, `the server did not answer (${(e as Error).message})`);
  }
  if (!resp.ok) {
    let msg = `${resp.status} ${resp.statusText}`;
    let diagnostics: string[] = [];
    try {
      const body = await resp.json();
      if (body && typeof body.error === "string") msg = body.error;
      if (Array.isArray(body?.diagnostics)) diagnostics = body.diagnostics;
    } catch {
      /* not JSON */
    }
    if (resp.status === 401 && tok === token()) onUnauthorized();
    throw new ApiError(resp.status, msg, diagnostics);
  }
  return resp;
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const r = await raw(path, init);
  return (await r.json()) as T;
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return api<T>(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// Shapes of the answers the views read.

export interface Observed {
  rps: number;
  latency_ms: number | null;
  utilization: number | null;
}
export interface Live {
  window_s: number;
  services: Record<string, Observed>;
}
export interface DriftRecord {
  at_ms: number;
  service: string;
  twin_version: number;
  window_s: number;
  observed_rps: number;
  predicted_utilization: number | null;
  observed_utilization: number | null;
  predicted_latency_ms: number | null;
  observed_latency_ms: number | null;
  mape: number | null;
}
export interface Drift {
  twin_version: number;
  threshold_pct: number;
  at_ms: number;
  services: (DriftRecord & { method?: string })[];
  recalibrations: number;
  last_recalibration: string | null;
}
export interface Version {
  version: number;
  parent: number | null;
  author: string;
  reason: string;
  created_ms: number;
}
export interface SloVerdict {
  name: string;
  target: string;
  objective: string;
  threshold: number;
  achieved: number | null;
  unit: string;
  met: boolean;
  excess: number | null;
  first_breach_s: number | null;
  breach_seconds: number;
}
export interface Bucket {
  t: number;
  arrivals_rps: number;
  throughput_rps: number;
  errors_rps: { timeout: number; rejected: number; failed: number; breaker_open: number };
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  services: { visits_rps: number; errors_rps: number; utilization: number; replicas: number }[];
}
export interface SimReport {
  summary: Record<string, unknown>;
  services: { name: string }[];
  timeline: Bucket[];
  slos: SloVerdict[];
  events: { t: number; label: string }[];
}
export interface Run {
  id: number;
  kind: string;
  twin_version: number;
  params: Record<string, unknown>;
  status: string;
  progress: number | null;
  result: unknown;
  error: string | null;
  submitted_by: string;
  created_ms: number;
  updated_ms?: number;
}
export interface GraphNode {
  id: string;
  kind: string;
  name: string;
  zone?: string;
  host?: string;
  namespace?: string;
  service?: string;
  x: number;
  y: number;
}
export interface GraphEdge {
  source: string;
  target: string;
  kind: string;
  weight?: number;
}
export interface Topology {
  twin_version: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  counts: Record<string, number>;
  zones: [string, string | null][];
}
export interface MetricPoint {
  entity: string;
  metric: string;
  bucket_ms: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}
