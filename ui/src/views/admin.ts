// Admin: users and their roles, tokens (created and shown once, revoked), and the audit log
// of every change made through the API. Needs the admin role; others are told so.

import { api, ApiError, post, raw } from "../api";
import { badge, h, panel, put, table } from "../dom";
import { stamp, when } from "../format";

interface User {
  name: string;
  role: string;
  created_ms: number;
}
interface Token {
  id: number;
  user: string;
  label: string;
  created_ms: number;
  role: string;
  revoked: boolean;
}
interface Audit {
  at_ms: number;
  actor: string;
  action: string;
  status: number;
  detail: string;
}

export function adminView(root: HTMLElement): () => void {
  const err = h("p", { class: "error", role: "alert" });
  const users = h("div", {}, "Loading…");
  const tokens = h("div", {}, "Loading…");
  const audit = h("div", {}, "Loading…");
  const shown = h("div", { role: "status" });
  const userName = h("input", { id: "adm-user", type: "text", required: true, placeholder: "name" });
  const userRole = h("select", { id: "adm-role" }, ["viewer", "operator", "admin"].map((r) => h("option", { value: r }, r)));
  const tokUser = h("select", { id: "adm-token-user" });
  const tokLabel = h("input", { id: "adm-token-label", type: "text", placeholder: "label (what it is for)" });
  const actor = h("input", { id: "adm-actor", type: "search", placeholder: "filter by actor" });
  put(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Admin")),
    err,
    h(
      "div",
      { class: "grid two" },
      panel(
        "Users",
        users,
        h(
          "form",
          { class: "row", onsubmit: (e: Event) => { e.preventDefault(); act(() => post("/api/users", { name: userName.value.trim(), role: userRole.value }), () => (userName.value = "")); } },
          h("label", { class: "sr-only", for: "adm-user" }, "User name"),
          userName,
          h("label", { class: "sr-only", for: "adm-role" }, "Role"),
          userRole,
          h("button", { type: "submit" }, "Add user"),
        ),
      ),
      panel(
        "Tokens",
        tokens,
        h(
          "form",
          {
            class: "row",
            onsubmit: (e: Event) => {
              e.preventDefault();
              act(
                () => post<{ token: string; info: Token }>("/api/tokens", { user: tokUser.value, label: tokLabel.value }),
                (r) => {
                  const t = (r as { token: string }).token;
                  put(shown, h("p", {}, badge("warn", "shown once"), " New token for ", tokUser.value, ": ", h("code", { id: "adm-new-token" }, t), " ", h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(t) }, "Copy")));
                  tokLabel.value = "";
                },
              );
            },
          },
          h("label", { class: "sr-only", for: "adm-token-user" }, "User"),
          tokUser,
          h("label", { class: "sr-only", for: "adm-token-label" }, "Label"),
          tokLabel,
          h("button", { type: "submit" }, "Create token"),
        ),
        shown,
      ),
    ),
    panel("Audit log", h("div", { class: "row" }, h("label", { for: "adm-actor", class: "sr-only" }, "Actor"), actor), audit),
  );

  async function act(f: () => Promise<unknown>, then: (r: unknown) => void): Promise<void> {
    err.textContent = "";
    try {
      then(await f());
      await load();
    } catch (e) {
      err.textContent = (e as ApiError).message;
    }
  }

  async function load(): Promise<void> {
    try {
      const a = actor.value.trim();
      const [u, t, l] = await Promise.all([
        api<{ users: User[] }>("/api/users"),
        api<{ tokens: Token[] }>("/api/tokens"),
        api<{ entries: Audit[] }>(`/api/audit?limit=200${a ? `&actor=${encodeURIComponent(a)}` : ""}`),
      ]);
      put(users, table(["User", "Role", "Since"], u.users.map((x) => [x.name, x.role, when(x.created_ms)])));
      const keep = tokUser.value;
      put(tokUser, u.users.map((x) => h("option", { value: x.name }, x.name)));
      if (keep) tokUser.value = keep;
      put(
        tokens,
        table(
          ["Id", "User", "Role", "Label", "Created", "State"],
          t.tokens.map((x) => [
            String(x.id),
            x.user,
            x.role,
            x.label || "–",
            when(x.created_ms),
            x.revoked
              ? badge("idle", "revoked")
              : h(
                  "button",
                  {
                    type: "button",
                    onclick: () => {
                      if (confirm(`Revoke token ${x.id} (${x.user}${x.label ? `, ${x.label}` : ""})? Whoever uses it is signed out.`)) {
                        act(() => raw(`/api/tokens/${x.id}`, { method: "DELETE" }), () => {});
                      }
                    },
                  },
                  `Revoke ${x.id}`,
                ),
          ]),
        ),
      );
      put(
        audit,
        table(
          ["When", "Actor", "Action", "Status", "Detail"],
          l.entries.map((x) => [h("span", { title: stamp(x.at_ms) }, when(x.at_ms)), x.actor, h("code", {}, x.action), x.status === 0 ? "–" : badge(x.status < 400 ? "ok" : "bad", String(x.status)), x.detail]),
        ),
      );
    } catch (e) {
      const x = e as ApiError;
      err.textContent = x.status === 403 ? "The admin view needs a token with the admin role." : x.message;
    }
  }
  actor.addEventListener("change", load);
  load();
  return () => {};
}
