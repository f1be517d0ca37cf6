// A collection's indexes with their state and size; create (built in the background, its
// progress polled from the server and drawn as a bar) and drop, offered only to users who may
// write the collection. Indexes still building (started here or elsewhere) show how far
// they got.

import { call, seg } from "../api.js";
import { h, replace, toast, confirmAction, errorBox, bytes, field, progressLine } from "../dom.js";
import { canWrite } from "../session.js";

/** How often a build's progress is asked for, in milliseconds. */
const POLL_MS = 250;

/** Renders the index list of `collection`; returns what stops the polling. */
export async function render(main, { collection }) {
  const list = h("div");
  const problem = h("div");
  const base = `/v1/collections/${seg(collection)}/indexes`;
  const polls = new Set();
  const reload = () => load(collection, base, list, problem, polls);
  replace(main, h("h1", {}, `Indexes of ${collection}`),
    canWrite(collection) ? createForm(base, problem, reload, polls) : null, problem, list);
  await reload();
  return () => {
    for (const timer of polls) clearTimeout(timer);
    polls.clear();
  };
}

/** The line of a build: "Building by_n: 10000 of 25000 documents, 10000 entries". */
function describeBuild(status) {
  const verb = { building: "Building", ready: "Built", failed: "Failed" }[status.state] ?? status.state;
  const entries = status.written ? `, ${status.written} entries` : "";
  return `${verb} ${status.index}: ${status.scanned} of ${status.total} documents${entries}`;
}

/**
 * Follows a build until it ends: asks for its status every `POLL_MS` and draws it on `line`;
 * resolves with the last status. `polls` holds the pending timer so leaving the view stops it.
 */
function follow(base, status, line, polls) {
  line.set(status.scanned, status.total, describeBuild(status));
  line.dataset.state = status.state;
  // The readings drawn, for whoever wants to see the bar moved (the browser test prints them).
  line.dataset.seen = [line.dataset.seen, `${status.state}:${status.scanned}`].filter(Boolean).join(" ");
  if (status.state !== "building") return Promise.resolve(status);
  return new Promise((resolve, reject) => {
    const tick = async () => {
      polls.delete(timer);
      try {
        const next = await call("GET", `${base}/${seg(status.index)}/build`);
        resolve(await follow(base, next, line, polls));
      } catch (error) {
        reject(error);
      }
    };
    const timer = setTimeout(tick, POLL_MS);
    polls.add(timer);
  });
}

function createForm(base, problem, reload, polls) {
  const name = h("input#index-name", { required: true, placeholder: "by_age" });
  const fields = h("input#index-fields", { required: true, placeholder: "age, name" });
  const kind = h("select#index-kind", {}, ["btree", "hash", "spatial", "vector", "text"].map((k) => h("option", { value: k }, k)));
  const unique = h("input", { type: "checkbox" });
  const dims = h("input", { type: "number", min: 1, placeholder: "dims" });
  const metric = h("select", {}, ["cosine", "dot", "l2", "poincare"].map((m) => h("option", { value: m }, m)));
  const vectorOnly = h("span", { hidden: true }, field("Dimensions", dims), field("Metric", metric));
  kind.addEventListener("change", () => (vectorOnly.hidden = kind.value !== "vector"));
  const builds = h("div#index-builds");
  const form = h("form.inline", {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        name: name.value,
        fields: fields.value.split(",").map((f) => f.trim()).filter(Boolean),
        kind: kind.value,
        unique: unique.checked,
      };
      if (kind.value === "vector") Object.assign(body, { dims: Number(dims.value), metric: metric.value });
      replace(problem);
      try {
        // Answered at once (202): the bar follows the build from its first report.
        const started = await call("POST", `${base}?background=true`, body);
        const line = progressLine("index-progress");
        replace(builds, line);
        const ended = await follow(base, started, line, polls);
        if (ended.state === "failed") {
          replace(problem, errorBox(ended.error));
        } else {
          toast(`Index ${body.name} built`);
        }
        await reload();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    },
  }, field("Name", name), field("Fields", fields), field("Kind", kind),
  h("label.check", {}, unique, " unique"), vectorOnly,
  h("button.primary", { type: "submit" }, "Create index"));
  return h("div", {}, form, builds);
}

async function load(collection, base, list, problem, polls) {
  const { indexes } = await call("GET", base);
  if (!indexes.length) {
    replace(list, h("p.empty", {}, "No indexes: queries scan the collection."));
    return;
  }
  replace(list, h("table.grid", {},
    h("thead", {}, h("tr", {}, ["Name", "Fields", "Kind", "Unique", "State", "Entries", "Size", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, indexes.map((index) => h("tr", {},
      h("td", {}, index.name), h("td", {}, index.fields.join(", ")), h("td", {}, index.kind),
      h("td", {}, index.unique ? "yes" : ""),
      h("td", {}, index.ready ? "ready" : building(base, index.name, polls)),
      h("td.num", {}, index.entries), h("td.num", {}, bytes(index.bytes)),
      h("td", {}, canWrite(collection) ? h("button.danger", {
        "aria-label": `Drop index ${index.name}`,
        onclick: async () => {
          if (!(await confirmAction(`Drop index “${index.name}”?`, "Drop"))) return;
          try {
            await call("DELETE", `${base}/${seg(index.name)}`);
            await load(collection, base, list, problem, polls);
          } catch (error) {
            replace(problem, errorBox(error));
          }
        },
      }, "Drop") : null))))));
}

/** The state cell of an index not ready yet: its build's progress when this server has it. */
function building(base, name, polls) {
  const line = progressLine(`build-${name}`);
  line.set(0, 1, "building");
  call("GET", `${base}/${seg(name)}/build`)
    .then((status) => follow(base, status, line, polls))
    .catch(() => line.set(0, 1, "building (progress unknown: started before this server)"));
  return line;
}
