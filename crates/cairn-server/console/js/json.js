// JSON for people: parsing with the position of a syntax error (so the editor can point at
// it before anything is sent), a collapsible tree view, and flattening rows into table columns.

import { h } from "./dom.js";

/**
 * Parses `text` (empty means `fallback`). Returns `{value}` or `{error, line, column, offset}`
 * with a 1-based line and column of the first syntax error.
 */
export function parseJson(text, fallback = undefined) {
  if (text.trim() === "") return { value: fallback };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    const offset = errorOffset(text, error.message);
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    return { error: error.message, line, column, offset };
  }
}

function errorOffset(text, message) {
  const position = /position (\d+)/.exec(message);
  if (position) return Math.min(Number(position[1]), text.length);
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) {
    const lines = text.split("\n").slice(0, Number(lineColumn[1]) - 1);
    return lines.reduce((sum, line) => sum + line.length + 1, 0) + Number(lineColumn[2]) - 1;
  }
  return text.length;
}

/**
 * A JSON editor: a textarea that checks its text as it changes and marks the first syntax
 * error (line, column, message) before anything is sent. `editor.read()` returns the value
 * or throws after focusing the error.
 */
export function jsonEditor(label, initial = "", { rows = 3, fallback, placeholder } = {}) {
  const area = h("textarea.code", { rows, spellcheck: "false", "aria-label": label, placeholder });
  area.value = initial;
  const message = h("div.syntax", { "aria-live": "polite" });
  const check = () => {
    const parsed = parseJson(area.value, fallback);
    area.classList.toggle("invalid", Boolean(parsed.error));
    area.setAttribute("aria-invalid", parsed.error ? "true" : "false");
    message.textContent = parsed.error
      ? `${label}: line ${parsed.line}, column ${parsed.column}: ${parsed.error}`
      : "";
    return parsed;
  };
  area.addEventListener("input", check);
  const wrapper = h("div.editor", {}, h("label", {}, h("span", {}, label), area), message);
  wrapper.area = area;
  wrapper.check = check;
  wrapper.read = () => {
    const parsed = check();
    if (parsed.error) {
      area.focus();
      area.setSelectionRange(parsed.offset, Math.min(parsed.offset + 1, area.value.length));
      throw new SyntaxError(message.textContent);
    }
    return parsed.value;
  };
  wrapper.set = (text) => {
    area.value = text;
    check();
  };
  /** Selects the first occurrence of `"key":` of a field path (for a server error). */
  wrapper.pointAt = (path) => {
    const key = String(path).split(".").pop();
    const at = area.value.indexOf(`"${key}"`);
    if (at >= 0) {
      area.focus();
      area.setSelectionRange(at, at + key.length + 2);
    }
  };
  return wrapper;
}

/** A collapsible tree of a JSON value (`<details>` per object and array: keyboard-operable). */
export function jsonTree(value, name = null, open = true) {
  const label = name === null ? null : h("span.key", {}, `${name}: `);
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
    return h("details.tree", { open },
      h("summary", {}, label, h("span.meta", {}, summary)),
      entries.map(([key, child]) => jsonTree(child, key, entries.length < 20 && open && name === null)));
  }
  return h("div.leaf", {}, label, h(`span.${value === null ? "null" : typeof value}`, {}, JSON.stringify(value)));
}

/** The columns of a table of documents: every top-level field found, `_id` first. */
export function columnsOf(documents) {
  const seen = new Set(["_id"]);
  for (const doc of documents) for (const key of Object.keys(doc ?? {})) seen.add(key);
  return [...seen];
}

/** A cell's text: scalars as JSON, objects and arrays abbreviated. */
export function cellText(value) {
  if (value === undefined) return "";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0].startsWith("$")) return `${keys[0]}…`;
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** Pretty JSON text. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}
