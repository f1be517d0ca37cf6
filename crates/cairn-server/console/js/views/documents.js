// A collection's documents, a page at a time (the query cursor), each openable as a JSON tree;
// insert, edit and delete for users who may write, with the server's validation errors shown
// beside the editor and the offending field selected in it.

import { call, seg, idSegment } from "../api.js";
import { h, replace, toast, confirmAction, errorBox } from "../dom.js";
import { jsonEditor, jsonTree, pretty, cellText } from "../json.js";
import { canWrite } from "../session.js";

/** Documents per page. */
const PAGE = 20;

/** Renders the document browser of `collection`. */
export async function render(main, { collection }) {
  const state = { collection, cursors: [null], page: 0 };
  const table = h("div");
  const detail = h("div.detail");
  const pager = h("div.pager");
  const writable = canWrite(collection);
  replace(main,
    h("h1", {}, `Documents of ${collection}`),
    writable ? h("button#insert-document", { onclick: () => openEditor(state, detail, null, reload) }, "Insert document") : null,
    pager, table, detail);
  const reload = () => loadPage(state, table, pager, detail, reload);
  await reload();
}

async function loadPage(state, table, pager, detail, reload) {
  const body = { limit: PAGE };
  const cursor = state.cursors[state.page];
  if (cursor) body.cursor = cursor;
  const result = await call("POST", `/v1/collections/${seg(state.collection)}/query`, body);
  state.cursors[state.page + 1] = result.cursor ?? undefined;
  const go = (delta) => async () => {
    state.page += delta;
    await loadPage(state, table, pager, detail, reload);
  };
  replace(pager,
    h("button", { onclick: go(-1), disabled: state.page === 0 }, "← Previous"),
    h("span", {}, ` page ${state.page + 1} `),
    h("button#next-page", { onclick: go(1), disabled: !result.cursor }, "Next →"));
  if (!result.documents.length) {
    replace(table, h("p.empty", {}, "No documents."));
    return;
  }
  replace(table, h("table.grid", {},
    h("thead", {}, h("tr", {}, h("th", {}, "_id"), h("th", {}, "document"), h("th", {}, ""))),
    h("tbody", {}, result.documents.map((doc) => h("tr", {},
      h("td", {}, cellText(doc._id)),
      h("td.preview", {}, cellText(doc)),
      h("td", {}, h("button", {
        onclick: () => openDocument(state, detail, doc, reload),
        "aria-label": `Open document ${cellText(doc._id)}`,
      }, "Open")))))));
}

/** Shows one document as a tree, with edit and delete when allowed. */
export function openDocument(state, detail, doc, reload) {
  const path = `/v1/collections/${seg(state.collection)}/documents/${idSegment(doc._id)}`;
  const writable = canWrite(state.collection);
  replace(detail,
    h("h2", {}, `Document ${cellText(doc._id)}`),
    writable ? h("div.actions", {},
      h("button", { onclick: () => openEditor(state, detail, doc, reload) }, "Edit"),
      h("button.danger", {
        onclick: async () => {
          if (!(await confirmAction(`Delete document ${cellText(doc._id)}?`, "Delete"))) return;
          try {
            await call("DELETE", path);
            toast("Deleted");
            replace(detail);
            await reload();
          } catch (error) {
            detail.append(errorBox(error));
          }
        },
      }, "Delete")) : null,
    jsonTree(doc));
  detail.querySelector("button, summary")?.focus();
}

/** Opens the editor: insert when `doc` is null, else replace the document. */
function openEditor(state, detail, doc, reload) {
  const editor = jsonEditor(doc ? "Document" : "New document", doc ? pretty(doc) : "{\n  \n}", { rows: 14 });
  const problem = h("div");
  const save = h("button.primary", {
    onclick: async () => {
      let value;
      try {
        value = editor.read();
      } catch {
        return;
      }
      try {
        const base = `/v1/collections/${seg(state.collection)}/documents`;
        if (doc) await call("PUT", `${base}/${idSegment(doc._id)}`, value);
        else await call("POST", base, value);
        toast(doc ? "Saved" : "Inserted");
        replace(detail);
        await reload();
      } catch (error) {
        replace(problem, errorBox(error));
        const at = error.details?.path ?? error.details?.field;
        if (at) editor.pointAt(at);
      }
    },
  }, doc ? "Save" : "Insert");
  replace(detail, h("h2", {}, doc ? "Edit document" : "Insert document"), editor, problem,
    h("div.actions", {}, save, h("button", { onclick: () => replace(detail) }, "Cancel")));
  editor.area.focus();
}
