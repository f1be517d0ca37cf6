// A collection's schema (current version, migration progress, editable by writers with the
// server's refusal shown, e.g. 409 `migration_required`), its version history, and its
// invariants with the figures each keeps (add and drop for writers).

import { call, seg } from "../api.js";
import { h, replace, toast, confirmAction, errorBox, field } from "../dom.js";
import { jsonEditor, jsonTree, pretty } from "../json.js";
import { canWrite } from "../session.js";

/** Renders the schema page of `collection`. */
export async function render(main, { collection }) {
  const base = `/v1/collections/${seg(collection)}`;
  const writable = canWrite(collection);
  const current = h("div");
  const history = h("div");
  const invariants = h("div");
  const problem = h("div");
  const reload = async () => {
    const [schema, versions, rules] = await Promise.all([
      call("GET", `${base}/schema`), call("GET", `${base}/schema/history`), call("GET", `${base}/invariants`),
    ]);
    showSchema(current, base, schema, writable, problem, reload);
    replace(history, versions.versions.length
      ? h("ol", { reversed: true }, [...versions.versions].reverse().map((v) => h("li", {},
        `version ${v.version}, ${v.at} by ${v.by}: ${v.changes.join("; ") || "created"}`)))
      : h("p.empty", {}, "No versions: schemaless."));
    showInvariants(invariants, base, rules.invariants, writable, problem, reload);
  };
  replace(main, h("h1", {}, `Schema of ${collection}`), problem, current,
    h("h2", {}, "History"), history, h("h2", {}, "Invariants"), invariants);
  await reload();
}

function showSchema(box, base, schema, writable, problem, reload) {
  const progress = schema.progress
    ? h("p.warn", {}, `Migrating: ${schema.progress.migrated} of ${schema.progress.total} documents`)
    : null;
  if (!writable) {
    replace(box, h("p.meta", {}, `version ${schema.version}`), progress,
      schema.schema ? jsonTree(schema.schema) : h("p.empty", {}, "Schemaless."));
    return;
  }
  const editor = jsonEditor("Schema", schema.schema ? pretty(schema.schema) : "", { rows: 12 });
  const save = h("button.primary", {
    onclick: async () => {
      let value;
      try {
        value = editor.read();
      } catch {
        return;
      }
      try {
        await call("PUT", `${base}/schema`, value);
        toast("Schema saved");
        replace(problem);
        await reload();
      } catch (error) {
        replace(problem, errorBox(error));
        if (error.details?.at) editor.pointAt(error.details.at);
      }
    },
  }, "Save schema");
  replace(box, h("p.meta", {}, `version ${schema.version}`), progress, editor, h("div.actions", {}, save));
}

function showInvariants(box, base, rules, writable, problem, reload) {
  const list = rules.length
    ? h("table.grid", {},
      h("thead", {}, h("tr", {}, ["Name", "Rule", "Figures", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rules.map((rule) => h("tr", {},
        h("td", {}, rule.name), h("td", {}, h("code", {}, rule.rule)),
        h("td", {}, figures(rule)),
        h("td", {}, writable ? h("button.danger", {
          "aria-label": `Drop invariant ${rule.name}`,
          onclick: async () => {
            if (!(await confirmAction(`Drop invariant “${rule.name}”?`, "Drop"))) return;
            try {
              await call("DELETE", `${base}/invariants/${seg(rule.name)}`);
              await reload();
            } catch (error) {
              replace(problem, errorBox(error));
            }
          },
        }, "Drop") : null)))))
    : h("p.empty", {}, "No invariants.");
  if (!writable) {
    replace(box, list);
    return;
  }
  const rule = h("input#invariant-rule", { required: true, size: 40, placeholder: "sum(amount) by account >= 0" });
  const name = h("input", { placeholder: "optional" });
  const form = h("form.inline", {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = { rule: rule.value };
      if (name.value) body.name = name.value;
      try {
        await call("POST", `${base}/invariants`, body);
        replace(problem);
        await reload();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    },
  }, field("Rule", rule), field("Name", name), h("button", { type: "submit" }, "Add invariant"));
  replace(box, list, form);
}

function figures(rule) {
  const parts = [];
  if (rule.total !== undefined && rule.total !== null) parts.push(`total ${JSON.stringify(rule.total)}`);
  if (rule.groups !== undefined && rule.groups !== null) parts.push(`${rule.groups} groups`);
  if (rule.lowest) parts.push(`lowest ${JSON.stringify(rule.lowest.group)} = ${JSON.stringify(rule.lowest.sum)}`);
  if (rule.highest) parts.push(`highest ${JSON.stringify(rule.highest.group)} = ${JSON.stringify(rule.highest.sum)}`);
  return parts.join(", ");
}
