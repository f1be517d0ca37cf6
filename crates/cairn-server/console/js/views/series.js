// A time-series collection's plot (uPlot): pick a series and a numeric field; the whole span is
// downsampled into about one bucket per pixel of the plot (avg, min, max), and a drag-selected
// window is queried again at that resolution, so zooming shows detail the first answer had
// averaged away. Times are the collection's integers (its unit is not known to the page).

import uPlot from "../../vendor/uplot.min.js";
import { call, seg, ApiFailure } from "../api.js";
import { h, replace, errorBox, field } from "../dom.js";
import { cellText } from "../json.js";

/** Plot height in CSS pixels. */
const HEIGHT = 360;
/** The smallest plot width, whatever the window. */
const MIN_WIDTH = 320;
/** Lowest time the first-point probe starts from (JSON numbers are exact up to 2^53). */
const EARLIEST = -Number.MAX_SAFE_INTEGER;

/** Renders the plot view of `collection`. */
export async function render(main, { collection }) {
  const base = `/v1/series/${seg(collection)}`;
  let latest;
  try {
    ({ points: latest } = await call("GET", `${base}/latest`));
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "not_timeseries_collection") {
      replace(main, h("h1", {}, `Series of ${collection}`),
        h("p.empty", {}, "Not a time-series collection: nothing to plot."));
      return null;
    }
    throw error;
  }
  if (!latest.length) {
    replace(main, h("h1", {}, `Series of ${collection}`), h("p.empty", {}, "No points yet."));
    return null;
  }
  // The server writes each point as {time_field, meta_field, ...values}, in that order.
  const [timeField, metaField] = Object.keys(latest[0]);
  const seriesPick = h("select#series-key", {},
    latest.map((point, i) => h("option", { value: i }, cellText(point[metaField]))));
  const numeric = [...new Set(latest.flatMap((p) => Object.keys(p).slice(2)
    .filter((k) => typeof p[k] === "number")))];
  const fieldPick = h("select#series-field", {}, numeric.map((k) => h("option", { value: k }, k)));
  const info = h("p.meta#series-info", { "aria-live": "polite" });
  const problem = h("div");
  const box = h("div.plot#series-plot");
  let plot = null;
  let full = null;

  const draw = async (from, to) => {
    const key = latest[Number(seriesPick.value)][metaField];
    const width = Math.max(MIN_WIDTH, box.clientWidth || main.clientWidth);
    const every = Math.max(1, Math.ceil((to - from) / width));
    try {
      const { series } = await call("POST", `${base}/downsample`, {
        series: key, from, to, every, field: fieldPick.value, aggregates: ["avg", "min", "max"],
      });
      const buckets = series[0]?.buckets ?? [];
      const data = [buckets.map((b) => b.start), ...["avg", "min", "max"].map((a) => buckets.map((b) => b[a]))];
      if (!plot) plot = makePlot(box, width, fieldPick.value, data, (a, b) => draw(a, b));
      else plot.setData(data);
      info.textContent = `${buckets.length} buckets of ${every} over [${from}, ${to}) of ${timeField}`;
      replace(problem);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  const start = async () => {
    plot?.destroy();
    plot = null;
    const point = latest[Number(seriesPick.value)];
    try {
      // The first point: a range from the earliest time, cut to one point.
      const { points } = await call("POST", `${base}/range`, {
        series: point[metaField], from: EARLIEST, to: point[timeField] + 1, limit: 1,
      });
      full = [points[0]?.[timeField] ?? point[timeField], point[timeField] + 1];
      await draw(...full);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  seriesPick.addEventListener("change", start);
  fieldPick.addEventListener("change", start);
  const reset = h("button#series-reset", { onclick: () => full && draw(...full) }, "Reset zoom");
  replace(main, h("h1", {}, `Series of ${collection}`),
    h("div.row", {}, field(`Series (${metaField})`, seriesPick), field("Field", fieldPick), reset),
    numeric.length ? null : h("p.empty", {}, "The series hold no numeric field."),
    problem, box, info, h("p.meta", {}, "Drag across the plot to zoom: the window is queried again."));
  if (numeric.length) await start();
  return () => plot?.destroy();
}

/** A uPlot of avg with min and max; a drag selection calls `zoom(from, to)`. */
function makePlot(box, width, label, data, zoom) {
  const line = (name, stroke, dash) => ({ label: `${name}(${label})`, stroke, width: 1.5, dash, spanGaps: true });
  const axis = { stroke: "#dfe6ec", grid: { stroke: "#2f3a45" }, ticks: { stroke: "#2f3a45" } };
  return new uPlot({
    width,
    height: HEIGHT,
    scales: { x: { time: false } },
    cursor: { drag: { x: true, y: false, setScale: false } },
    series: [{ label: "time" }, line("avg", "#f28e2b"), line("min", "#76b7b2", [4, 4]), line("max", "#e15759", [4, 4])],
    axes: [axis, axis],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 2) return;
        const from = Math.floor(u.posToVal(u.select.left, "x"));
        const to = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        if (to > from) zoom(from, to);
      }],
    },
  }, data, box);
}
