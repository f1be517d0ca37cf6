// A live tail of a collection's change stream (Server-Sent Events read with fetch, which can
// send the token): the newest changes first, at most `KEEP` kept on screen.

import { stream, seg } from "../api.js";
import { h, replace, errorBox } from "../dom.js";
import { jsonTree } from "../json.js";

/** Changes kept on screen. */
const KEEP = 200;

/** Renders the tail of `collection`; returns the function that closes the stream. */
export async function render(main, { collection }) {
  const list = h("ol.changes#change-list", { reversed: true });
  const status = h("p.meta", { "aria-live": "polite" }, "Waiting for changes…");
  const controller = new AbortController();
  let count = 0;
  replace(main, h("h1", {}, `Changes of ${collection}`), status, list);
  stream(`/v1/collections/${seg(collection)}/changes`, (event) => {
    if (event.event === "error") {
      replace(status, errorBox(JSON.parse(event.data).error));
      return;
    }
    if (event.event !== "change") return;
    const change = JSON.parse(event.data);
    count += 1;
    status.textContent = `${count} change${count === 1 ? "" : "s"} since opened`;
    list.prepend(h("li", {}, h("span.op", {}, change.op), ` seq ${change.seq} `,
      h("code", {}, JSON.stringify(change._id)), " ", h("span.meta", {}, change.at),
      change.new ? jsonTree(change.new, "new", false) : null));
    while (list.children.length > KEEP) list.lastChild.remove();
  }, controller.signal).catch((error) => {
    if (error.name !== "AbortError") replace(status, errorBox(error));
  });
  return () => controller.abort();
}
