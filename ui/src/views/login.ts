// The login screen: a token (dpl_...) checked against the API before it is kept.

import { ApiError, raw, setToken } from "../api";
import { h } from "../dom";

export function loginView(done: () => void): HTMLElement {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "dpl_…",
    required: true,
    "aria-describedby": "login-help",
  });
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const expired = sessionStorage.getItem("doppel.expired");
  sessionStorage.removeItem("doppel.expired");
  if (expired) error.textContent = "Your session ended (the token was refused). Sign in again.";
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const t = input.value.trim();
        error.textContent = "";
        if (!t) {
          error.textContent = "Paste a token first.";
          return;
        }
        button.disabled = true;
        button.textContent = "Checking…";
        try {
          await raw("/api/twin/versions?limit=1", {}, t);
          setToken(t);
          if (!location.hash || location.hash === "#/" || location.hash === "#") location.hash = "#/overview";
          done();
        } catch (err) {
          const e = err as ApiError;
          error.textContent =
            e.status === 401
              ? "This token was not accepted: check that you copied all of it, or ask an admin for a new one."
              : e.status === 429
                ? "Too many failed attempts from this address: wait a minute and try again."
                : `Could not sign in: ${e.message}`;
          input.focus();
          input.select();
        } finally {
          button.disabled = false;
          button.textContent = "Sign in";
        }
      },
    },
    h("h1", {}, h("span", { class: "logo", "aria-hidden": "true" }, "◐"), " Doppel"),
    h("p", { class: "muted" }, "The digital twin of your infrastructure, live."),
    h("label", { for: "token" }, "API token"),
    input,
    h(
      "p",
      { id: "login-help", class: "muted small" },
      h("code", {}, "doppel demo"),
      " and ",
      h("code", {}, "doppel serve"),
      " print an admin token when they start; admins create more under Admin. The token stays in this tab only.",
    ),
    error,
    button,
  );
  queueMicrotask(() => input.focus());
  return h("div", { class: "login-wrap" }, form);
}
