// The dashboard: who is logged in, the live link to the hub, and a view per route:
//   #/                          the integrations        (list.js)
//   #/install                   install one             (install.js)
//   #/integrations/{id}/tools   its tools, and calls    (tools.js)
//   #/integrations/{id}/logs    its log                 (logs.js)
// and the login (login.js) whenever the API answers 401.

import { api, ApiError, setHooks, Unreachable } from "./api.js";
import { check, lost, on, startEvents, stopEvents } from "./connection.js";
import { announce, h, showError } from "./dom.js";
import { installView } from "./install.js";
import { listView } from "./list.js";
import { loginView } from "./login.js";
import { logsView } from "./logs.js";
import { toolsView } from "./tools.js";

const ROUTES = [
  { pattern: /^#\/$/, nav: "list", title: () => "Integrations", view: (main) => listView(main) },
  { pattern: /^#\/install$/, nav: "install", title: () => "Install", view: (main) => installView(main) },
  {
    pattern: /^#\/integrations\/([^/]+)\/tools$/,
    title: (id) => `Tools of ${id}`,
    view: (main, id) => toolsView(main, id),
  },
  {
    pattern: /^#\/integrations\/([^/]+)\/logs$/,
    title: (id) => `Log of ${id}`,
    view: (main, id) => logsView(main, id),
  },
];

const session = { user: null, login: false, reason: "" };
let cleanup = null;
let shown = null; // "login", "wait" or the hash shown

function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function showUser() {
  const box = document.getElementById("user");
  const user = session.user;
  box.hidden = !user;
  if (!user) return;
  document.getElementById("user-name").textContent = user.open
    ? "Open hub (no token needed)"
    : `Logged in as ${user.name} (${user.role})`;
  document.getElementById("logout").hidden = Boolean(user.open);
}

function render(moveFocus = false) {
  let hash = location.hash || "#/";
  if (!hash.startsWith("#/")) hash = "#/";
  const key = session.login ? "login" : session.user ? hash : "wait";
  if (key === shown && !moveFocus) return;
  if (cleanup) cleanup();
  cleanup = null;
  shown = key;
  showError(null);
  const main = document.getElementById("main");
  main.replaceChildren();
  let title = "MCP integrations";
  let nav = null;
  if (session.login) {
    cleanup = loginView(main, { reason: session.reason, onLogin: loggedIn });
    title = "Log in";
  } else if (!session.user) {
    main.append(h("h1", { id: "view-title", tabindex: "-1" }, "MCP integrations"), h("p", {}, "Connecting to the hub…"));
  } else {
    const route = ROUTES.find((r) => r.pattern.test(hash));
    if (route) {
      const params = hash.match(route.pattern).slice(1).map(decode);
      cleanup = route.view(main, ...params) ?? null;
      title = route.title(...params);
      nav = route.nav ?? null;
    } else {
      main.append(
        h("h1", { id: "view-title", tabindex: "-1" }, "Not found"),
        h("p", {}, "This page does not exist. ", h("a", { href: "#/" }, "See the integrations"), "."),
      );
      title = "Not found";
    }
  }
  document.title = `${title} · MCP integrations`;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (moveFocus) document.getElementById("view-title")?.focus();
}

function needLogin(reason) {
  if (session.login) return;
  session.user = null;
  session.login = true;
  session.reason = reason && !/needs a token/.test(reason) ? reason : "";
  stopEvents();
  showUser();
  render(true);
}

function loggedIn(user) {
  session.user = user;
  session.login = false;
  session.reason = "";
  showUser();
  announce(user.open ? "This hub is open." : `Logged in as ${user.name}.`);
  startEvents();
  render(true);
}

async function loadSession() {
  try {
    const user = await api("/ui/session");
    loggedIn(user);
  } catch (error) {
    // 401: the login shows (the API's hook); unreachable: the banner shows and retries.
    if (!(error instanceof ApiError || error instanceof Unreachable)) throw error;
  }
}

async function logout() {
  try {
    await api("/ui/logout", { method: "POST" });
  } catch (error) {
    if (error instanceof Unreachable) return;
  }
  needLogin("");
  announce("Logged out.");
}

function boot() {
  setHooks({ unauthorized: needLogin, unreachable: lost });
  document.getElementById("logout").addEventListener("click", logout);
  document.getElementById("retry").addEventListener("click", check);
  document.getElementById("error-dismiss").addEventListener("click", () => {
    showError(null);
    document.getElementById("main").focus();
  });
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", () => render(true));
  on("recovered", () => {
    if (!session.user && !session.login) loadSession();
  });
  render();
  loadSession();
}

boot();
