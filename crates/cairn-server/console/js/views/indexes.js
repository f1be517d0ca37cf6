// A collection's indexes with their state and size; create (the answer comes when the build
// is done) and drop, offered only to users who may write the collection.

import { call, seg } from "../api.js";
import { h, replace, toast, confirmAction, errorBox, bytes, field } from "../dom.js";
import { canWrite } from "../session.js";

/** Renders the index list of `collection`. */
export async function render(main, { collection }) {
  const list = h("div");
  const problem = h("div");
  const base = `/v1/collections/${seg(collection)}/indexes`;
  const reload = () => load(collection, base, list, problem);
  replace(main, h("h1", {}, `Indexes of ${collection}`),
    canWrite(collection) ? createForm(base, problem, reload) : null, problem, list);
  await reload();
}

function createForm(base, problem, reload) {
  const name = h("input#index-name", { required: true, placeholder: "by_age" });
  const fields = h("input#index-fields", { required: true, placeholder: "age, name" });
  const kind = h("select#index-kind", {}, ["btree", "hash", "spatial", "vector"].map((k) => h("option", { value: k }, k)));
  const unique = h("input", { type: "checkbox" });
  const dims = h("input", { type: "number", min: 1, placeholder: "dims" });
  const metric = h("select", {}, ["cosine", "dot", "l2", "poincare"].map((m) => h("option", { value: m }, m)));
  const vectorOnly = h("span", { hidden: true }, field("Dimensions", dims), field("Metric", metric));
  kind.addEventListener("change", () => (vectorOnly.hidden = kind.value !== "vector"));
  const status = h("span.meta", { "aria-live": "polite" });
  return h("form.inline", {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        name: name.value,
        fields: fields.value.split(",").map((f) => f.trim()).filter(Boolean),
        kind: kind.value,
        unique: unique.checked,
      };
      if (kind.value === "vector") Object.assign(body, { dims: Number(dims.value), metric: metric.value });
      status.textContent = "building…";
      try {
        await call("POST", base, body);
        status.textContent = "";
        toast(`Index ${body.name} built`);
        replace(problem);
        await reload();
      } catch (error) {
        status.textContent = "";
        replace(problem, errorBox(error));
      }
    },
  }, field("Name", name), field("Fields", fields), field("Kind", kind),
  h("label.check", {}, unique, " unique"), vectorOnly,
  h("button.primary", { type: "submit" }, "Create index"), status);
}

async function load(collection, base, list, problem) {
  const { indexes } = await call("GET", base);
  if (!indexes.length) {
    replace(list, h("p.empty", {}, "No indexes: queries scan the collection."));
    return;
  }
  replace(list, h("table.grid", {},
    h("thead", {}, h("tr", {}, ["Name", "Fields", "Kind", "Unique", "State", "Entries", "Size", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, indexes.map((index) => h("tr", {},
      h("td", {}, index.name), h("td", {}, index.fields.join(", ")), h("td", {}, index.kind),
      h("td", {}, index.unique ? "yes" : ""), h("td", {}, index.ready ? "ready" : "building"),
      h("td.num", {}, index.entries), h("td.num", {}, bytes(index.bytes)),
      h("td", {}, canWrite(collection) ? h("button.danger", {
        "aria-label": `Drop index ${index.name}`,
        onclick: async () => {
          if (!(await confirmAction(`Drop index “${index.name}”?`, "Drop"))) return;
          try {
            await call("DELETE", `${base}/${seg(index.name)}`);
            await load(collection, base, list, problem);
          } catch (error) {
            replace(problem, errorBox(error));
          }
        },
      }, "Drop") : null))))));
}
