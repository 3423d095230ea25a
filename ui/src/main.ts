// The shell of the UI: login gate, header with navigation and theme switch, and a hash
// router that mounts one view at a time. A view is a function that fills an element and
// returns its clean-up (timers, charts, the graph) for when the user navigates away.

import "./style.css";
import { setToken, token, whenUnauthorized } from "./api";
import { h, put } from "./dom";
import { applyTheme, currentTheme, toggleTheme } from "./theme";
import { loginView } from "./views/login";
import { overviewView } from "./views/overview";
import { topologyView } from "./views/topology";
import { serviceView } from "./views/service";
import { scenariosView } from "./views/scenarios";
import { historyView } from "./views/history";
import { securityView } from "./views/security";
import { networkView } from "./views/network";
import { adminView } from "./views/admin";
import { cohortsView } from "./views/cohorts";

export type Cleanup = () => void;
export type View = (root: HTMLElement, args: string[]) => Cleanup | void;

const views: Record<string, { title: string; view: View; nav: boolean }> = {
  overview: { title: "Overview", view: overviewView, nav: true },
  topology: { title: "Topology", view: topologyView, nav: true },
  service: { title: "Service", view: serviceView, nav: false },
  scenarios: { title: "Scenarios", view: scenariosView, nav: true },
  security: { title: "Security", view: securityView, nav: true },
  network: { title: "Network", view: networkView, nav: true },
  cohorts: { title: "Cohorts", view: cohortsView, nav: true },
  history: { title: "History", view: historyView, nav: true },
  admin: { title: "Admin", view: adminView, nav: true },
};

const app = document.getElementById("app") as HTMLElement;
let cleanup: Cleanup | void;

function route(): void {
  if (cleanup) {
    cleanup();
    cleanup = undefined;
  }
  if (!token()) {
    put(app, loginView(() => route()));
    return;
  }
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, ...args] = hash.split("/").map(decodeURIComponent);
  const entry = views[name] ?? views.overview;
  const current = views[name] ? name : "overview";
  const main = h("main", { id: "main", tabindex: "-1" });
  const nav = h(
    "nav",
    { "aria-label": "Views" },
    Object.entries(views)
      .filter(([, v]) => v.nav)
      .map(([k, v]) =>
        h("a", { href: `#/${k}`, "aria-current": k === current ? "page" : undefined }, v.title),
      ),
  );
  const themeBtn = h(
    "button",
    { type: "button", class: "ghost", title: "Switch between dark and light", onclick: () => {
      toggleTheme();
      themeBtn.textContent = themeLabel();
      window.dispatchEvent(new Event("doppel-theme"));
    } },
    themeLabel(),
  );
  const header = h(
    "header",
    { class: "top" },
    h("a", { class: "skip", href: "#main", onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, "Skip to content"),
    h("a", { class: "brand", href: "#/overview" }, h("span", { class: "logo", "aria-hidden": "true" }, "◐"), "Doppel"),
    nav,
    h("div", { class: "spacer" }),
    themeBtn,
    h("button", { type: "button", class: "ghost", onclick: () => { setToken(null); route(); } }, "Sign out"),
  );
  put(app, header, main);
  document.title = `${entry.title} · Doppel`;
  cleanup = entry.view(main, args);
}

function themeLabel(): string {
  return currentTheme() === "dark" ? "Light theme" : "Dark theme";
}

applyTheme(currentTheme());
whenUnauthorized(() => {
  setToken(null);
  sessionStorage.setItem("doppel.expired", "1");
  route();
});
window.addEventListener("hashchange", route);
route();
