// The collections the user may read, with documents and bytes; create, rename (the new name
// asked in a dialog, which is the confirmation) and drop (confirmed).

import { call, seg } from "../api.js";
import { h, replace, toast, confirmAction, promptAction, errorBox, bytes } from "../dom.js";
import { canWrite, canCreateCollections } from "../session.js";

/** The rule of collection names, as the server checks it. */
const NAME_PATTERN = "[A-Za-z_][A-Za-z0-9_\\-]{0,127}";

/** Renders the list into `main`. */
export async function render(main) {
  const list = h("div");
  const problem = h("div");
  replace(main, h("h1", {}, "Collections"), createForm(problem, () => load(list, problem)), problem, list);
  await load(list, problem);
}

function createForm(problem, reload) {
  if (!canCreateCollections()) return null;
  const name = h("input#new-collection", {
    name: "name", required: true, pattern: NAME_PATTERN,
    placeholder: "name", "aria-label": "New collection name",
  });
  return h("form.inline", {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await call("POST", "/v1/collections", { name: name.value });
        toast(`Created ${name.value}`);
        name.value = "";
        replace(problem);
        await reload();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    },
  }, name, h("button.primary", { type: "submit" }, "Create collection"));
}

async function load(list, problem) {
  const { collections } = await call("GET", "/v1/collections?stats=true");
  if (!collections.length) {
    replace(list, h("p.empty", {}, "No collections yet."));
    return;
  }
  const rows = collections.map((c) => {
    const href = `#/c/${encodeURIComponent(c.name)}`;
    const drop = canWrite(c.name)
      ? h("button.danger", {
        "aria-label": `Drop ${c.name}`,
        onclick: async () => {
          const sure = await confirmAction(
            `Drop collection “${c.name}” and its ${c.documents ?? "?"} documents? This cannot be undone.`,
            "Drop");
          if (!sure) return;
          try {
            await call("DELETE", `/v1/collections/${seg(c.name)}`);
            toast(`Dropped ${c.name}`);
            await load(list, problem);
          } catch (error) {
            replace(problem, errorBox(error));
          }
        },
      }, "Drop")
      : null;
    const rename = canWrite(c.name)
      ? h("button", {
        "aria-label": `Rename ${c.name}`,
        onclick: async () => {
          const to = await promptAction(`Rename collection “${c.name}” to`, "Rename",
            { value: c.name, pattern: NAME_PATTERN });
          if (to === null || to === c.name) return;
          try {
            await call("POST", `/v1/collections/${seg(c.name)}/rename`, { to });
            toast(`Renamed ${c.name} to ${to}`);
            replace(problem);
            await load(list, problem);
          } catch (error) {
            replace(problem, errorBox(error));
          }
        },
      }, "Rename")
      : null;
    return h("tr", {},
      h("td", {}, h("a", { href }, c.name)),
      h("td.num", {}, c.documents ?? "–"),
      h("td.num", {}, bytes(c.bytes)),
      h("td", {}, c.created_at),
      h("td.actions", {}, rename, " ", drop));
  });
  replace(list, h("table.grid", {},
    h("thead", {}, h("tr", {}, ["Name", "Documents", "Size", "Created", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}
