// Building DOM nodes without HTML strings: every text from the server goes in as a text node,
// so a document can never inject markup into the page (the CSP is the second wall).

/**
 * Creates an element: `h("button.primary", {onclick}, "Run")`. The tag may carry `.class`
 * parts, then one `#id` last; attributes starting with `on` become listeners; children are nodes or
 * text (null and false are skipped; arrays are flattened).
 */
export function h(spec, attributes = {}, ...children) {
  const [withoutId, id] = spec.split("#");
  const [tag, ...classes] = withoutId.split(".");
  const element = document.createElement(tag || "div");
  if (id) element.id = id;
  if (classes.length) element.className = classes.join(" ");
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** Shows a short message in the status line (read out by screen readers). */
export function toast(text, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.className = `show ${kind}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.className = ""), 4000);
}

/** Asks for confirmation in a modal dialog; resolves to true only on "Confirm". */
export function confirmAction(text, okLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/**
 * Asks for a value in a modal dialog (`pattern` checked by the browser); resolves to the text
 * on "OK", or null when cancelled.
 */
export function promptAction(text, okLabel, { value = "", pattern = null } = {}) {
  const dialog = document.getElementById("prompt");
  const input = document.getElementById("prompt-input");
  document.getElementById("prompt-text").textContent = text;
  document.getElementById("prompt-ok").textContent = okLabel;
  input.value = value;
  if (pattern) input.setAttribute("pattern", pattern);
  else input.removeAttribute("pattern");
  // Enter confirms (the form's first button is Cancel, which implicit submission would press).
  input.onkeydown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      if (input.reportValidity()) dialog.close("ok");
    }
  };
  dialog.returnValue = "";
  dialog.showModal();
  input.select();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value : null), { once: true });
  });
}

/** A progress bar with a line of text: `set(value, max, text)` updates both. */
export function progressLine(id) {
  const bar = h("progress", { id: `${id}-bar`, max: 1, value: 0 });
  const text = h("span.meta", { id: `${id}-text` });
  const line = h("div.progress", { id, role: "status", "aria-live": "polite" }, bar, " ", text);
  line.set = (value, max, label) => {
    bar.max = Math.max(1, max);
    bar.value = Math.min(value, bar.max);
    text.textContent = label;
  };
  return line;
}

/** An error box for a failed request: code, message and the details the server sent. */
export function errorBox(error) {
  if (!error) return null;
  const details = error.details ? JSON.stringify(error.details) : null;
  return h("div.error", { role: "alert" },
    h("strong", {}, error.code ?? "error"), " ", error.message ?? String(error),
    details ? h("code.details", {}, details) : null);
}

/** Formats a byte count (1.2 MiB). */
export function bytes(count) {
  if (count === undefined || count === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** A labelled control: `<label>text <control></label>`. */
export function field(label, control) {
  return h("label.field", {}, h("span", {}, label), control);
}
