// `explain` drawn as a plan: the chosen plan as the root box with what running it did
// (keys and documents examined, returned, time), the alternatives below it with their
// estimated rows and cost as bars relative to the most expensive.

import { h } from "../dom.js";

/** The plan diagram of an `ExplainResponse`. */
export function drawExplain(explain) {
  const executed = explain.executed ?? {};
  const examined = executed.docs_examined ?? 0;
  const returned = executed.returned ?? 0;
  const selectivity = examined ? returned / examined : 1;
  const counters = [
    ["keys examined", executed.keys_examined],
    ["documents examined", examined],
    ["returned", returned],
    ["time", `${executed.elapsed_us ?? 0} µs`],
  ];
  const maxCost = Math.max(1, ...explain.considered.map((p) => p.cost));
  return h("div.plan#explain-plan", {},
    h("div.node.chosen", {},
      h("div.title", {}, "chosen: ", h("code", {}, explain.chosen.plan)),
      h("dl.counters", {}, counters.map(([name, value]) => [h("dt", {}, name), h("dd", {}, String(value ?? 0))])),
      examined > 10 * Math.max(1, returned) && selectivity < 0.1
        ? h("p.warn", {}, `Read ${examined} documents to return ${returned}: an index on the filtered fields would help.`)
        : null),
    h("h3", {}, "Plans considered"),
    h("ol.considered", {}, explain.considered.map((plan) => {
      const bar = h("span.bar");
      bar.style.width = `${Math.max(2, (100 * plan.cost) / maxCost)}%`;
      return h("li", {}, h("code", {}, plan.plan),
        h("span.meta", {}, ` ~${plan.estimated_rows} rows, cost ${plan.cost}`), h("span.track", {}, bar));
    })));
}
