// History: the twin's versions (who, when, why), each one's changes against its parent by
// JSON Pointer, and where the changed entities came from (their provenance: the Terraform
// state, the Kubernetes manifest... an importer recorded). Operators can roll back.

import { api, ApiError, post, type Version } from "../api";
import { badge, h, panel, put, table } from "../dom";
import { stamp, when } from "../format";

interface Change {
  path: string;
  op: string;
  before?: unknown;
  after?: unknown;
}

interface Provenance {
  source?: string;
  file?: string;
  ref?: string;
  observed_at?: string;
  fields?: Record<string, unknown>;
}

/// The entity a JSON Pointer lies in (`/services/cart/replicas` → `["services", "cart"]`).
export function entityOf(path: string): [string, string] | null {
  const parts = path.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  return parts.length >= 2 ? [parts[0], parts[1]] : null;
}

export function describeProvenance(p: Provenance | undefined): string {
  if (!p) return "written by hand (no provenance)";
  const bits = [p.source ? `from ${p.source}` : "", p.file ? `file ${p.file}` : "", p.ref ? `(${p.ref})` : "", p.observed_at ? `observed ${p.observed_at}` : ""];
  return bits.filter(Boolean).join(" ");
}

function short(v: unknown): string {
  if (v === undefined) return "";
  const s = JSON.stringify(v);
  return s.length > 120 ? s.slice(0, 117) + "…" : s;
}

export function historyView(root: HTMLElement, args: string[]): () => void {
  const list = h("div", {}, "Loading…");
  const detail = h("div", { id: "history-detail" }, h("p", { class: "muted" }, "Pick a version to see what changed and where it came from."));
  const err = h("p", { class: "error", role: "alert" });
  put(root, h("div", { class: "page-head" }, h("h1", {}, "History")), err, h("div", { class: "grid two" }, panel("Twin versions", list), panel("Changes", detail)));
  let stopped = false;

  async function show(v: number, versions: Version[]): Promise<void> {
    const meta = versions.find((x) => x.version === v);
    put(detail, "Loading…");
    try {
      const parent = meta?.parent ?? (v > 1 ? v - 1 : null);
      const stored = await api<{ twin: Record<string, Record<string, { provenance?: Provenance }>> }>(`/api/twin/versions/${v}`);
      const head = [
        h("h3", {}, `Version ${v}`),
        h("p", {}, meta ? `${meta.author}, ${stamp(meta.created_ms)}: ${meta.reason}` : ""),
      ];
      if (parent === null) {
        put(detail, head, h("p", { class: "muted" }, "The first version: everything was added."), provenanceTable(stored.twin));
        return;
      }
      const d = await api<{ from: number; to: number; changes: Change[] }>(`/api/twin/diff?from=${parent}&to=${v}`);
      const rows = d.changes.map((c) => {
        const ent = entityOf(c.path);
        const prov = ent ? stored.twin?.[ent[0]]?.[ent[1]]?.provenance : undefined;
        return [
          h("code", {}, c.path),
          badge(c.op === "added" ? "ok" : c.op === "removed" ? "bad" : "warn", c.op),
          h("span", { class: "diff" }, c.before !== undefined ? h("span", { class: "del" }, short(c.before)) : null, c.before !== undefined && c.after !== undefined ? " → " : "", c.after !== undefined ? h("span", { class: "add" }, short(c.after)) : null),
          describeProvenance(prov),
        ];
      });
      const rollback = h(
        "button",
        {
          type: "button",
          onclick: async () => {
            const reason = prompt(`Roll back to version ${parent}: why?`, `back to v${parent}`);
            if (reason === null) return;
            try {
              await post("/api/twin/rollback", { to: parent, reason });
              location.hash = "#/history";
              load();
            } catch (e) {
              err.textContent = (e as ApiError).status === 403 ? "Rolling back needs the operator role." : (e as ApiError).message;
            }
          },
        },
        `Roll back to v${parent}`,
      );
      put(
        detail,
        head,
        h("p", {}, `${d.changes.length} change${d.changes.length === 1 ? "" : "s"} from v${parent}. `, rollback),
        d.changes.length ? table(["Where", "", "Before → after", "Provenance"], rows) : null,
      );
    } catch (e) {
      put(detail, h("p", { class: "error" }, (e as ApiError).message));
    }
  }

  function provenanceTable(twin: Record<string, Record<string, { provenance?: Provenance }>>): HTMLElement {
    const rows: string[][] = [];
    for (const [kind, entities] of Object.entries(twin ?? {})) {
      if (!entities || typeof entities !== "object" || Array.isArray(entities)) continue;
      for (const [name, e] of Object.entries(entities)) {
        if (e && typeof e === "object" && e.provenance) rows.push([`${kind}/${name}`, describeProvenance(e.provenance)]);
      }
    }
    return rows.length ? table(["Entity", "Came from"], rows) : h("p", { class: "muted" }, "No entity records a provenance.");
  }

  async function load(): Promise<void> {
    try {
      const { versions } = await api<{ versions: Version[] }>("/api/twin/versions?limit=200");
      if (stopped) return;
      put(
        list,
        table(
          ["Version", "When", "By", "Why"],
          versions.map((x) => [h("a", { href: `#/history/${x.version}` }, `v${x.version}`), h("span", { title: stamp(x.created_ms) }, when(x.created_ms)), x.author, x.reason]),
        ),
      );
      const pick = args[0] ? Number(args[0]) : versions[0]?.version;
      if (pick) await show(pick, versions);
    } catch (e) {
      err.textContent = (e as ApiError).message;
    }
  }
  load();
  return () => {
    stopped = true;
  };
}
