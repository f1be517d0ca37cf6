// A collection's schema (current version, migration progress, editable by writers with the
// server's refusal shown, e.g. 409 `migration_required`), migrations (dry run, run with its
// progress drawn while it goes, resume), its version history, and its invariants with the
// figures each keeps (add and drop for writers).

import { call, seg, ApiFailure } from "../api.js";
import { h, replace, toast, confirmAction, errorBox, field, progressLine } from "../dom.js";
import { jsonEditor, jsonTree, pretty, parseJson } from "../json.js";
import { canWrite } from "../session.js";

/** Renders the schema page of `collection`. */
export async function render(main, { collection }) {
  const base = `/v1/collections/${seg(collection)}`;
  const writable = canWrite(collection);
  const current = h("div");
  const history = h("div");
  const invariants = h("div");
  const problem = h("div");
  const migration = writable ? migrationPanel(base, collection, () => replace(problem)) : null;
  const reload = async () => {
    const [schema, versions, rules] = await Promise.all([
      call("GET", `${base}/schema`), call("GET", `${base}/schema/history`), call("GET", `${base}/invariants`),
    ]);
    showSchema(current, base, schema, writable, problem, reload, migration);
    migration?.update(schema, reload);
    replace(history, versions.versions.length
      ? h("ol", { reversed: true }, [...versions.versions].reverse().map((v) => h("li", {},
        `version ${v.version}, ${v.at} by ${v.by}: ${v.changes.join("; ") || "created"}`)))
      : h("p.empty", {}, "No versions: schemaless."));
    showInvariants(invariants, base, rules.invariants, writable, problem, reload);
  };
  replace(main, h("h1", {}, `Schema of ${collection}`), problem, current,
    migration ? [h("h2", {}, "Migration"), migration] : null,
    h("h2", {}, "History"), history, h("h2", {}, "Invariants"), invariants);
  await reload();
  return () => migration?.stop();
}

function showSchema(box, base, schema, writable, problem, reload, migration) {
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
        if (error.code === "migration_required") {
          // Offer the change as a migration: the same schema, with steps to fill in.
          migration?.propose(value);
          replace(problem, errorBox(error),
            h("p.meta", {}, "The documents need a migration: the schema is in the Migration editor below; add transform steps, dry-run it, then run it."));
        }
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

/** How often a running migration's progress is read, in milliseconds. */
const MIGRATION_POLL_MS = 300;

/**
 * The migration editor (`{"schema", "transform"}`, as `cairn schema migrate` reads it) with
 * dry run, run (confirmed; while it runs, the schema's `progress` is polled and drawn), and
 * resume for a migration cut off by its time budget or interrupted. `update(schema)` follows
 * the current schema; `propose(schema)` fills the editor with a schema to migrate to;
 * `settled()` is called when a migration finished (the page clears the refusal it showed).
 */
function migrationPanel(base, collection, settled) {
  const editor = jsonEditor("Migration", "", { rows: 8, placeholder: '{"schema": {...}, "transform": [{"set": {"field": "level", "to": "1"}}]}' });
  editor.area.id = "migration";
  const report = h("div#migration-report", { "aria-live": "polite" });
  const progress = progressLine("migration-progress");
  progress.hidden = true;
  let timer = null;
  let current = null;
  let reload = async () => {};
  const stopPolling = () => {
    clearTimeout(timer);
    timer = null;
  };
  const poll = () => {
    timer = setTimeout(async () => {
      try {
        const schema = await call("GET", `${base}/schema`);
        if (schema.progress) showProgress(schema.progress);
      } catch {
        // A missed reading only delays the bar.
      }
      if (timer !== null) poll();
    }, MIGRATION_POLL_MS);
  };
  const showProgress = (p) => {
    progress.hidden = false;
    progress.set(p.scanned, p.total, `Migrating: ${p.migrated} rewritten, ${p.scanned} of ${p.total} documents examined`);
  };
  const send = async (body) => {
    replace(report, h("p.meta", {}, body.dry_run ? "Checking every document…" : "Migrating…"));
    if (!body.dry_run) {
      progress.set(0, 1, "Migrating…");
      progress.hidden = false;
      poll();
    }
    try {
      const result = await call("POST", `${base}/schema/migrations`, body);
      stopPolling();
      if (body.dry_run) {
        showDryRun(report, result);
      } else {
        progress.set(result.total, result.total, `Migrated to version ${result.target_version}: ${result.migrated} documents rewritten, ${result.scanned} examined`);
        replace(report, h("p#migration-done", {}, `Schema version ${result.target_version} is current.`));
        settled(); // The refused save that led here is answered.
        toast(`Migrated ${collection} to version ${result.target_version}`);
        await reload();
      }
    } catch (error) {
      stopPolling();
      replace(report, errorBox(error));
      if (error instanceof ApiFailure && error.details?.resumable) {
        showProgress(error.details);
        report.append(resumeButton());
      }
    }
  };
  const read = () => {
    try {
      return editor.read();
    } catch {
      return undefined; // The editor marked the syntax error; nothing is sent.
    }
  };
  const resumeButton = () => h("button#migration-resume", { onclick: () => send({ resume: true }) }, "Resume migration");
  const dryRun = h("button#migration-dry-run", {
    onclick: () => {
      const value = read();
      if (value !== undefined) send({ migration: value, dry_run: true });
    },
  }, "Dry run");
  const run = h("button.danger#migration-run", {
    onclick: async () => {
      const value = read();
      if (value === undefined) return;
      const sure = await confirmAction(
        `Migrate every document of “${collection}” to a new schema version (version ${(current?.version ?? 0) + 1})? Documents are rewritten in chunks; an interrupted run can be resumed.`,
        "Migrate");
      if (sure) send({ migration: value });
    },
  }, "Run migration");
  const resume = h("span");
  const panel = h("div.migration", {}, editor, h("div.actions", {}, dryRun, run, resume), progress, report);
  panel.update = (schema, reloadPage) => {
    current = schema;
    reload = reloadPage;
    if (!editor.area.value.trim()) {
      editor.set(pretty({ schema: schema.schema ?? { fields: {} }, transform: [] }));
    }
    replace(resume, schema.migrating ? resumeButton() : null);
    if (schema.progress) showProgress(schema.progress);
  };
  panel.propose = (schema) => {
    let transform = [];
    const parsed = parseJson(editor.area.value);
    if (Array.isArray(parsed.value?.transform)) transform = parsed.value.transform;
    editor.set(pretty({ schema, transform }));
    editor.area.focus();
  };
  panel.stop = stopPolling;
  return panel;
}

/** A dry run's findings: how many documents would fail, per reason with examples. */
function showDryRun(report, result) {
  const summary = h("p#dry-run-summary", { class: result.failed ? "warn" : null },
    `${result.failed} of ${result.total} documents would fail.`);
  replace(report, summary, result.reasons.length ? h("table.grid", {},
    h("thead", {}, h("tr", {}, ["Reason", "Documents", "Example", "Some ids"].map((t) => h("th", {}, t)))),
    h("tbody", {}, result.reasons.map((r) => h("tr", {},
      h("td", {}, r.reason), h("td.num", {}, r.count), h("td", {}, r.example),
      h("td", {}, r.sample_ids.map((id) => JSON.stringify(id)).join(", ")))))) : null);
}
