// The console's shell: login and logout, the navigation, and the hash router that mounts one
// view at a time (`#/c/orders/query`). A view is a module whose `render(main, params)` fills
// `main` and may return a function that stops what it started (streams, timers, WebGL).

import { call, login, setToken, hasToken, whenUnauthorized, ApiFailure } from "./api.js";
import { h, replace, toast, errorBox } from "./dom.js";
import { setUser, currentUser, isAdmin, canRead } from "./session.js";
import * as collections from "./views/collections.js";
import * as documents from "./views/documents.js";
import * as query from "./views/query.js";
import * as indexes from "./views/indexes.js";
import * as schema from "./views/schema.js";
import * as geometry from "./views/geometry.js";
import * as graph from "./views/graph.js";
import * as changes from "./views/changes.js";
import * as series from "./views/series.js";
import * as nearest from "./views/nearest.js";
import * as metrics from "./views/metrics.js";
import * as stats from "./views/stats.js";

const main = document.getElementById("main");
let stopView = null;
let authDisabled = false;

/** Views inside one collection, in tab order. */
const COLLECTION_TABS = [
  ["", "Documents", documents],
  ["query", "Query", query],
  ["indexes", "Indexes", indexes],
  ["schema", "Schema", schema],
  ["geometry", "3D", geometry],
  ["changes", "Changes", changes],
  ["series", "Plot", series],
  ["nearest", "Nearest", nearest],
];
/** Tabs offered only to users who may read the collection (plots and searches read data). */
const READ_TABS = new Set(["series", "nearest"]);

function offered(collection) {
  return COLLECTION_TABS.filter(([path]) => !READ_TABS.has(path) || canRead(collection));
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "c" && parts[1]) {
    const tab = offered(parts[1]).find(([path]) => path === (parts[2] ?? "")) ?? COLLECTION_TABS[0];
    return { view: tab[2], params: { collection: parts[1], tab: tab[0] } };
  }
  if (parts[0] === "graph") return { view: graph, params: {} };
  if (parts[0] === "metrics" && isAdmin()) return { view: metrics, params: {} };
  if (parts[0] === "stats" && isAdmin()) return { view: stats, params: {} };
  return { view: collections, params: {} };
}

function navigation(active) {
  const link = (hash, label, key) =>
    h("a", { href: hash, "aria-current": active === hash ? "page" : null, accesskey: key }, label);
  const links = [link("#/", "Collections", "c"), link("#/graph", "Graph", "g")];
  if (isAdmin()) links.push(link("#/metrics", "Metrics", "m"), link("#/stats", "Query stats", "s"));
  return links;
}

function collectionTabs(collection, tab) {
  return h("nav.tabs", { "aria-label": `Collection ${collection}` },
    h("span.crumb", {}, collection),
    offered(collection).map(([path, label]) => {
      const hash = `#/c/${encodeURIComponent(collection)}${path ? `/${path}` : ""}`;
      return h("a", { href: hash, "aria-current": tab === path ? "page" : null }, label);
    }));
}

async function show() {
  if (stopView) {
    stopView();
    stopView = null;
  }
  if (!currentUser()) return showLogin();
  const { view, params } = route();
  const top = location.hash.startsWith("#/c/") ? "#/" : location.hash.split("/").slice(0, 2).join("/");
  replace(document.getElementById("nav"), navigation(top || "#/"));
  const user = currentUser();
  replace(document.getElementById("who"),
    h("span", {}, `${user.name} (${user.role})`),
    authDisabled ? null : h("button#logout", { onclick: logout }, "Log out"));
  replace(main);
  const body = h("section.view");
  if (params.collection) main.append(collectionTabs(params.collection, params.tab));
  main.append(body);
  try {
    stopView = (await view.render(body, params)) ?? null;
  } catch (error) {
    replace(body, errorBox(error));
  }
}

function showLogin(message) {
  replace(document.getElementById("nav"));
  replace(document.getElementById("who"));
  const user = h("input#login-user", { name: "user", autocomplete: "username", required: true });
  const password = h("input#login-password", {
    name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const problem = h("div", { role: "alert" }, message ? errorBox(message) : null);
  const form = h("form.login", {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await login(user.value, password.value);
        setUser(await call("GET", "/v1/auth/me"));
        password.value = "";
        if (location.hash.startsWith("#/login")) location.hash = "#/";
        await show();
      } catch (error) {
        setToken(null);
        replace(problem, errorBox(error));
        password.focus();
      }
    },
  },
  h("h1", {}, "Log in to Cairn"),
  h("label.field", {}, h("span", {}, "User"), user),
  h("label.field", {}, h("span", {}, "Password"), password),
  h("button.primary", { type: "submit" }, "Log in"),
  problem);
  replace(main, form);
  user.focus();
}

async function logout() {
  try {
    if (hasToken()) await call("DELETE", "/v1/auth/tokens/current");
  } catch {
    // The token is dropped from memory either way; a failed revoke only lets it expire.
  }
  setToken(null);
  setUser(null);
  if (stopView) stopView();
  stopView = null;
  // The next user starts from the collections, not from the last user's page.
  history.replaceState(null, "", "#/");
  toast("Logged out");
  showLogin();
}

whenUnauthorized(() => {
  setToken(null);
  setUser(null);
  showLogin(new ApiFailure(401, "unauthorized", "your session ended: log in again"));
});

window.addEventListener("hashchange", () => {
  show();
});

// Ctrl+Enter anywhere in a form presses its primary button (run a query, save a document).
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    const scope = event.target.closest("form, section") ?? document;
    const primary = scope.querySelector("button.primary");
    if (primary) {
      event.preventDefault();
      primary.click();
    }
  }
});

async function start() {
  // With authentication off (--insecure-no-auth) `me` answers without a token.
  try {
    setUser(await call("GET", "/v1/auth/me"));
    authDisabled = true;
  } catch {
    setUser(null);
  }
  await show();
}

start();
