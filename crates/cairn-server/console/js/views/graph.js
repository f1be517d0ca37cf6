// A vertex's neighbourhood drawn with cytoscape: start from `collection/id`, follow the chosen
// edge collections; clicking a vertex (or its button in the list, for the keyboard) expands
// its in and out edges and shows its document.

import cytoscape from "../../vendor/cytoscape.min.js";
import { call, seg, idSegment } from "../api.js";
import { h, replace, errorBox, field } from "../dom.js";
import { jsonTree } from "../json.js";

/** Neighbours fetched per expansion and direction. */
const EXPAND_LIMIT = 200;

/** Renders the graph explorer. */
export async function render(main) {
  const start = h("input#graph-start", { placeholder: "people/1", required: true });
  const edges = h("input#graph-edges", { placeholder: "knows, likes", required: true });
  const box = h("div.graph#graph-canvas");
  const detail = h("div.detail");
  const list = h("div.shapes");
  const problem = h("div");
  let cy = null;
  const expand = async (vertex) => {
    const names = edges.value.split(",").map((e) => e.trim()).filter(Boolean);
    try {
      for (const direction of ["out", "in"]) {
        const { results } = await call("POST", "/v1/graph/traverse", {
          start: [vertex], edges: names, direction, max_depth: 1, returns: "edges", limit: EXPAND_LIMIT,
        });
        for (const visit of results) {
          addNode(cy, visit.vertex);
          const [source, target] = direction === "out" ? [vertex, visit.vertex] : [visit.vertex, vertex];
          if (visit.edge && !cy.getElementById(visit.edge).length) {
            cy.add({ data: { id: visit.edge, source, target, label: visit.edge.split("/")[0] } });
          }
        }
      }
      cy.layout({ name: "cose", animate: false }).run();
      replace(list, h("ol", {}, cy.nodes().map((n) => h("li", {}, h("button.link", { onclick: () => select(n.id()) }, n.id())))));
      replace(problem);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  const select = async (vertex) => {
    cy.nodes().unselect();
    cy.getElementById(vertex).select();
    await expand(vertex);
    const slash = vertex.indexOf("/");
    try {
      const id = vertex.slice(slash + 1);
      const doc = await call("GET", `/v1/collections/${seg(vertex.slice(0, slash))}/documents/${idSegment(/^-?[0-9]+$/.test(id) ? Number(id) : id)}`);
      replace(detail, h("h2", {}, vertex), jsonTree(doc));
    } catch (error) {
      replace(detail, h("h2", {}, vertex), errorBox(error));
    }
    // The document panel takes width from the canvas: let cytoscape see its new size.
    cy.resize();
    cy.fit(undefined, 30);
  };
  const form = h("form.inline", {
    onsubmit: async (event) => {
      event.preventDefault();
      if (cy) cy.destroy();
      cy = cytoscape({
        container: box,
        style: [
          { selector: "node", style: { label: "data(id)", "background-color": "#4e79a7", color: "#dde", "font-size": 10 } },
          { selector: "node:selected", style: { "background-color": "#f28e2b" } },
          { selector: "edge", style: { width: 1.5, "line-color": "#8796a5", "target-arrow-color": "#8796a5", "target-arrow-shape": "triangle", "curve-style": "bezier" } },
        ],
      });
      cy.on("tap", "node", (event) => select(event.target.id()));
      addNode(cy, start.value.trim());
      await select(start.value.trim());
    },
  }, field("Start vertex", start), field("Edge collections", edges), h("button.primary", { type: "submit" }, "Show"));
  replace(main, h("h1", {}, "Graph neighbourhood"), form, problem, h("div.split", {}, box, detail), h("h2", {}, "Vertices"), list);
  return () => cy?.destroy();
}

function addNode(cy, id) {
  if (!cy.getElementById(id).length) cy.add({ data: { id } });
}
