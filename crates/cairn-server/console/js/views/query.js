// The query editor: filter, sort, projection and limit as JSON (syntax errors marked before
// anything is sent), or an aggregation pipeline; results as a table or JSON; explain drawn as
// a plan; a history of what ran, kept in the browser's local storage per user so it survives a
// reload (the queries only: the token stays in memory and a reload asks to log in again).

import { call, seg } from "../api.js";
import { h, replace, errorBox } from "../dom.js";
import { currentUser } from "../session.js";
import { jsonEditor, jsonTree, columnsOf, cellText, pretty } from "../json.js";
import { drawExplain } from "./explain.js";

/** Queries remembered per user (newest first), across collections. */
const HISTORY_SIZE = 50;
const lastFilter = new Map();

/** The local-storage key of the user's history: one list per user name on this server. */
function historyKey() {
  return `cairn.console.history.${currentUser()?.name ?? "anonymous"}`;
}

/** The user's history; an unreadable or absent one is empty (storage may be off). */
function loadHistory() {
  try {
    const saved = JSON.parse(localStorage.getItem(historyKey()) ?? "[]");
    return Array.isArray(saved) ? saved.filter((e) => e && typeof e.text === "string" && e.body && typeof e.body === "object") : [];
  } catch {
    return [];
  }
}

function saveHistory(history) {
  try {
    localStorage.setItem(historyKey(), JSON.stringify(history));
  } catch {
    // Storage full or disabled: the history stays for this page only.
  }
}

/** The filter last run on `collection` in this session (the 3D view starts from it). */
export function currentFilter(collection) {
  return lastFilter.get(collection) ?? {};
}

/** Renders the editor for `collection`. */
export async function render(main, { collection }) {
  const mode = h("select#query-mode", { "aria-label": "Mode" },
    h("option", { value: "find" }, "find"), h("option", { value: "aggregate" }, "aggregate"));
  const filter = jsonEditor("Filter", "", { placeholder: '{"age": {"$gte": 18}}', fallback: undefined });
  const sort = jsonEditor("Sort", "", { rows: 1, placeholder: '{"age": -1}' });
  const projection = jsonEditor("Projection", "", { rows: 1, placeholder: '{"name": 1}' });
  const pipeline = jsonEditor("Pipeline", "", { rows: 6, placeholder: '[{"$group": {"_id": "$city", "n": {"$count": {}}}}]' });
  const limit = h("input#query-limit", { type: "number", min: 0, max: 100000, value: 100, "aria-label": "Limit" });
  const asJson = h("input#as-json", { type: "checkbox", "aria-label": "Show results as JSON" });
  const output = h("div#query-output");
  const recent = h("div.history");
  const findEditors = h("div.find", {}, filter, h("div.row", {}, sort, projection),
    h("label.field", {}, h("span", {}, "Limit"), limit));
  const pipelineEditor = h("div.aggregate", { hidden: true }, pipeline);
  mode.addEventListener("change", () => {
    findEditors.hidden = mode.value !== "find";
    pipelineEditor.hidden = mode.value !== "aggregate";
    explainButton.disabled = mode.value !== "find";
  });
  let last = null;
  const base = `/v1/collections/${seg(collection)}`;
  const run = async (explain) => {
    let body;
    try {
      body = mode.value === "find" ? findBody(filter, sort, projection, limit) : { pipeline: pipeline.read() ?? [] };
    } catch {
      return; // The editor marked the syntax error; nothing was sent.
    }
    const kind = mode.value === "aggregate" ? "aggregate" : explain ? "explain" : "query";
    remember(collection, kind, body, recent, load);
    if (body.filter) lastFilter.set(collection, body.filter);
    replace(output, h("p.meta", {}, "Running…"));
    try {
      const result = await call("POST", `${base}/${kind}`, body);
      last = result;
      if (kind === "explain") replace(output, drawExplain(result));
      else showResults(output, result, asJson.checked);
    } catch (error) {
      replace(output, errorBox(error));
    }
  };
  const runButton = h("button.primary#run-query", { onclick: () => run(false) }, "Run (Ctrl+Enter)");
  const explainButton = h("button#explain-query", { onclick: () => run(true) }, "Explain");
  asJson.addEventListener("change", () => {
    if (last?.documents) showResults(output, last, asJson.checked);
  });
  const load = (entry) => {
    mode.value = entry.kind === "aggregate" ? "aggregate" : "find";
    mode.dispatchEvent(new Event("change"));
    filter.set(entry.body.filter ? pretty(entry.body.filter) : "");
    sort.set(entry.body.sort ? JSON.stringify(entry.body.sort) : "");
    projection.set(entry.body.projection ? JSON.stringify(entry.body.projection) : "");
    pipeline.set(entry.body.pipeline ? pretty(entry.body.pipeline) : "");
    if (entry.body.limit !== undefined) limit.value = entry.body.limit;
    filter.area.focus();
  };
  replace(main, h("h1", {}, `Query ${collection}`),
    h("div.row", {}, h("label.field", {}, h("span", {}, "Mode"), mode),
      h("label.check", {}, asJson, " results as JSON")),
    findEditors, pipelineEditor,
    h("div.actions", {}, runButton, explainButton),
    output, h("h2", {}, "History"), recent);
  showHistory(collection, recent, load);
  filter.area.focus();
}

function findBody(filter, sort, projection, limit) {
  const body = {};
  const f = filter.read();
  const s = sort.read();
  const p = projection.read();
  if (f !== undefined) body.filter = f;
  if (s !== undefined) body.sort = s;
  if (p !== undefined) body.projection = p;
  if (limit.value !== "") body.limit = Number(limit.value);
  return body;
}

function remember(collection, kind, body, recent, load) {
  const text = JSON.stringify(body);
  const history = loadHistory();
  const same = history.findIndex((e) => e.collection === collection && e.kind === kind && e.text === text);
  if (same >= 0) history.splice(same, 1);
  history.unshift({ collection, kind, body, text });
  history.length = Math.min(history.length, HISTORY_SIZE);
  saveHistory(history);
  showHistory(collection, recent, load);
}

function showHistory(collection, recent, load) {
  const mine = loadHistory().filter((e) => e.collection === collection);
  const clear = h("button#clear-history", {
    onclick: () => {
      saveHistory(loadHistory().filter((e) => e.collection !== collection));
      showHistory(collection, recent, load);
    },
  }, "Clear history");
  replace(recent, mine.length
    ? [h("ol#query-history", {}, mine.map((entry) => h("li", {},
      h("button.link", { onclick: () => load(entry) }, `${entry.kind} ${entry.text}`)))), clear]
    : h("p.empty", {}, "Nothing run yet."));
}

/** Results as a table (columns = fields found) or as JSON. */
export function showResults(output, result, asJson) {
  const docs = result.documents ?? [];
  const summary = h("p.meta#result-count", {}, `${docs.length} document${docs.length === 1 ? "" : "s"}${result.cursor ? " (more: page with the cursor)" : ""}`);
  if (asJson) {
    replace(output, summary, h("div.json", {}, docs.map((d) => jsonTree(d, null, false))));
    return;
  }
  const columns = columnsOf(docs);
  replace(output, summary, h("div.scroll", {}, h("table.grid#result-table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, docs.map((d) => h("tr", {}, columns.map((c) => h("td", {}, cellText(d?.[c])))))))));
}
