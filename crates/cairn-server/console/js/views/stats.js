// Query statistics (admins): per query shape (find, explain, count, distinct, aggregate) the
// count, total/mean/p99 time and documents examined against matched and returned, shapes that
// read far more than their filter matches and use no index called out first, and the
// slow-query log.

import { call } from "../api.js";
import { h, replace } from "../dom.js";

/** Renders the statistics page. */
export async function render(main) {
  const stats = await call("GET", "/v1/stats/queries");
  const missing = stats.shapes.filter((s) => s.missing_index);
  const shape = (s) => h("code", {}, `${s.collection} ${s.operation} ${s.filter}${s.sort !== "{}" ? ` sort ${s.sort}` : ""}${s.stages.length ? ` [${s.stages.join(", ")}]` : ""}`);
  replace(main, h("h1", {}, "Query statistics"),
    h("p.meta", {}, `${stats.shapes.length} shapes kept (at most ${stats.max_shapes}; ${stats.evicted} evicted); slow-query threshold ${stats.slow_threshold_ms} ms.`),
    h("h2", {}, "Missing indexes"),
    missing.length
      ? h("ul#missing-indexes", {}, missing.map((s) => h("li.warn", {}, shape(s),
        ` examined ${s.docs_examined} documents for ${s.matched} matches over ${s.count} runs (plan: ${s.last_plan}). Index the filtered fields: `,
        h("a", { href: `#/c/${encodeURIComponent(s.collection)}/indexes` }, "indexes of " + s.collection))))
      : h("p.empty", {}, "No shape reads far more than it returns without an index."),
    h("h2", {}, "By total time"),
    h("div.scroll", {}, h("table.grid#query-stats", {},
      h("thead", {}, h("tr", {}, ["Shape", "Count", "Total ms", "Mean ms", "p99 ms", "Examined", "Matched", "Returned", "Last plan"].map((t) => h("th", {}, t)))),
      h("tbody", {}, stats.shapes.map((s) => h("tr", {}, h("td", {}, shape(s)), h("td.num", {}, s.count),
        h("td.num", {}, s.total_ms.toFixed(1)), h("td.num", {}, s.mean_ms.toFixed(2)), h("td.num", {}, s.p99_ms.toFixed(2)),
        h("td.num", {}, s.docs_examined), h("td.num", {}, s.matched), h("td.num", {}, s.returned),
        h("td", {}, s.last_plan)))))),
    h("h2", {}, "Slow queries"),
    stats.slow.length
      ? h("ol", {}, stats.slow.map((q) => h("li", {}, h("span.meta", {}, q.at), " ", `${q.ms.toFixed(1)} ms `, shape(q), ` examined ${q.docs_examined}, returned ${q.returned}, plan: ${q.plan}`)))
      : h("p.empty", {}, "None above the threshold."));
}
