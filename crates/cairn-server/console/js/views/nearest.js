// Nearest neighbours through a vector index: pick an index of kind `vector` and a document;
// its vector becomes a `$nearVector` filter and the k nearest documents come back with their
// `_distance` (the document itself first, at distance 0 under most metrics).

import { call, seg, idSegment } from "../api.js";
import { h, replace, errorBox, field } from "../dom.js";
import { cellText } from "../json.js";
import { showResults } from "./query.js";

/** Documents offered in the picker (the first ones of the collection). */
const PICK_LIMIT = 100;
/** Default and largest k offered. */
const DEFAULT_K = 5;
const MAX_K = 1000;

/** Renders the nearest-neighbour search of `collection`. */
export async function render(main, { collection }) {
  const base = `/v1/collections/${seg(collection)}`;
  const { indexes } = await call("GET", `${base}/indexes`);
  const vectors = indexes.filter((index) => index.kind === "vector");
  if (!vectors.length) {
    replace(main, h("h1", {}, `Nearest in ${collection}`),
      h("p.empty", {}, "No vector index: create one (kind vector) in Indexes."));
    return;
  }
  const { documents } = await call("POST", `${base}/query`, { limit: PICK_LIMIT });
  const indexPick = h("select#nearest-index", {},
    vectors.map((index, i) => h("option", { value: i }, `${index.name} (${index.fields[0]})`)));
  const docPick = h("select#nearest-document", {},
    documents.map((doc, i) => h("option", { value: i }, cellText(doc._id))));
  const k = h("input#nearest-k", { type: "number", min: 1, max: MAX_K, value: DEFAULT_K });
  const output = h("div#nearest-output");
  const form = h("form.inline", {
    onsubmit: async (event) => {
      event.preventDefault();
      const path = vectors[Number(indexPick.value)].fields[0];
      const doc = documents[Number(docPick.value)];
      try {
        // Read the document again: the picker's copy may be stale.
        const fresh = await call("GET", `${base}/documents/${idSegment(doc._id)}`);
        const vector = vectorAt(fresh, path);
        if (!vector) {
          replace(output, errorBox({ code: "no_vector", message: `document ${cellText(doc._id)} has no vector in ${path}` }));
          return;
        }
        const result = await call("POST", `${base}/query`, {
          filter: { [path]: { $nearVector: { vector, k: Number(k.value) } } },
          projection: { [path]: 0 },
        });
        showResults(output, result, false);
      } catch (error) {
        replace(output, errorBox(error));
      }
    },
  }, field("Vector index", indexPick), field("Document", docPick), field("k", k),
  h("button.primary#nearest-run", { type: "submit" }, "Find nearest"));
  replace(main, h("h1", {}, `Nearest in ${collection}`), form,
    documents.length ? null : h("p.empty", {}, "No documents."), output);
}

/** The vector at a dotted path: a `{"$vector": [...]}` or a plain array of numbers. */
function vectorAt(doc, path) {
  let value = doc;
  for (const part of path.split(".")) value = value?.[part];
  const array = value?.$vector ?? value;
  return Array.isArray(array) && array.every((x) => typeof x === "number") ? array : null;
}
