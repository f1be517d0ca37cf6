// A time-series collection's plot (uPlot): pick a series and a numeric field; the whole span is
// downsampled into about one bucket per pixel of the plot (avg, min, max), and a drag-selected
// window is queried again at that resolution, so zooming shows detail the first answer had
// averaged away. The time and series fields come from the collection's options
// (`GET /v1/series/{c}`). Times are integers in the collection's unit, which the server does
// not record: a `$date` time is kept in microseconds since the epoch, so times of that
// magnitude are shown as dates (likewise milliseconds and seconds), and the unit can be
// changed by hand.

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

/** Time units the axis may read times in: name, label, units per second (0: plain numbers). */
const UNITS = [
  ["number", "plain numbers", 0],
  ["us", "µs since 1970", 1e6],
  ["ms", "ms since 1970", 1e3],
  ["s", "seconds since 1970", 1],
];
/** Times read as dates when they fall between these years in some unit (1973 to 2286). */
const EPOCH_SECONDS = [1e8, 1e10];

/** The unit a time most likely is in: the epoch unit whose range it falls in, else numbers. */
export function guessUnit(time) {
  for (const [name, , perSecond] of UNITS.slice(1)) {
    const seconds = Math.abs(time) / perSecond;
    if (seconds >= EPOCH_SECONDS[0] && seconds < EPOCH_SECONDS[1]) return name;
  }
  return "number";
}

/** A time as text in `unit`: an ISO date (UTC) for epoch units, the integer otherwise. */
function timeText(time, unit) {
  const perSecond = UNITS.find(([name]) => name === unit)?.[2] ?? 0;
  if (!perSecond) return String(time);
  const date = new Date((time / perSecond) * 1000);
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().replace(".000Z", "Z");
}

/** Renders the plot view of `collection`. */
export async function render(main, { collection }) {
  const base = `/v1/series/${seg(collection)}`;
  let latest;
  let options;
  try {
    options = await call("GET", base);
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
  const timeField = options.time_field;
  const metaField = options.meta_field;
  const seriesPick = h("select#series-key", {},
    latest.map((point, i) => h("option", { value: i }, cellText(point[metaField]))));
  const numeric = [...new Set(latest.flatMap((p) => Object.keys(p)
    .filter((k) => k !== timeField && k !== metaField && typeof p[k] === "number")))];
  const fieldPick = h("select#series-field", {}, numeric.map((k) => h("option", { value: k }, k)));
  const unitPick = h("select#series-time-unit", {},
    UNITS.map(([name, label]) => h("option", { value: name }, label)));
  unitPick.value = guessUnit(latest[0][timeField]);
  const unit = () => unitPick.value;
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
      const perSecond = UNITS.find(([name]) => name === unit())?.[2] ?? 0;
      // uPlot's time axis reads seconds; the zoom turns its positions back into the unit.
      const x = perSecond ? (t) => t / perSecond : (t) => t;
      const back = perSecond ? (v) => v * perSecond : (v) => v;
      const data = [buckets.map((b) => x(b.start)), ...["avg", "min", "max"].map((a) => buckets.map((b) => b[a]))];
      if (!plot) plot = makePlot(box, width, fieldPick.value, data, perSecond > 0, (a, b) => draw(Math.floor(back(a)), Math.ceil(back(b))));
      else plot.setData(data);
      const range = `[${timeText(from, unit())}, ${timeText(to, unit())})`;
      const bucket = perSecond ? `${Number((every / perSecond).toPrecision(3))} s` : every;
      info.textContent = `${buckets.length} buckets of ${bucket} over ${range} of ${timeField}`;
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
  unitPick.addEventListener("change", start);
  const reset = h("button#series-reset", { onclick: () => full && draw(...full) }, "Reset zoom");
  replace(main, h("h1", {}, `Series of ${collection}`),
    h("div.row", {}, field(`Series (${metaField})`, seriesPick), field("Field", fieldPick),
      field(`Time (${timeField})`, unitPick), reset),
    numeric.length ? null : h("p.empty", {}, "The series hold no numeric field."),
    problem, box, info, h("p.meta", {}, "Drag across the plot to zoom: the window is queried again."));
  if (numeric.length) await start();
  return () => plot?.destroy();
}

/**
 * A uPlot of avg with min and max, its x axis dates when `dates` (x in seconds); a drag
 * selection calls `zoom(from, to)` with x values.
 */
function makePlot(box, width, label, data, dates, zoom) {
  const line = (name, stroke, dash) => ({ label: `${name}(${label})`, stroke, width: 1.5, dash, spanGaps: true });
  const axis = { stroke: "#dfe6ec", grid: { stroke: "#2f3a45" }, ticks: { stroke: "#2f3a45" } };
  return new uPlot({
    width,
    height: HEIGHT,
    scales: { x: { time: dates } },
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    cursor: { drag: { x: true, y: false, setScale: false } },
    series: [{ label: "time" }, line("avg", "#f28e2b"), line("min", "#76b7b2", [4, 4]), line("max", "#e15759", [4, 4])],
    axes: [axis, axis],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 2) return;
        const from = u.posToVal(u.select.left, "x");
        const to = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        if (to > from) zoom(from, to);
      }],
    },
  }, data, box);
}
