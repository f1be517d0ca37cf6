// A small dashboard over `/metrics` (admins): the Prometheus text is read every few seconds
// and turned into rates (requests/s, commits/s, fsyncs/s), mean latency over the interval,
// and totals (documents, bytes on disk), each with a sparkline of the last minutes.

import { call } from "../api.js";
import { h, replace, errorBox, bytes } from "../dom.js";

/** Seconds between two reads of `/metrics`. */
const INTERVAL_S = 2;
/** Points per sparkline. */
const POINTS = 90;

/** Sums every sample of each metric name (labels ignored). */
export function parsePrometheus(text) {
  const sums = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) sums.set(match[1], (sums.get(match[1]) ?? 0) + value);
  }
  return sums;
}

const TILES = [
  ["requests/s", (now, before, dt) => rate(now, before, dt, "cairn_http_requests_total")],
  ["mean latency (ms)", (now, before) => {
    const count = delta(now, before, "cairn_http_request_duration_seconds_count");
    return count > 0 ? (1000 * delta(now, before, "cairn_http_request_duration_seconds_sum")) / count : 0;
  }],
  ["commits/s", (now, before, dt) => rate(now, before, dt, "cairn_commits_total")],
  ["fsyncs/s", (now, before, dt) => rate(now, before, dt, "cairn_fsyncs_total")],
  ["documents", (now) => now.get("cairn_collection_documents") ?? 0],
  ["bytes on disk", (now) => now.get("cairn_disk_bytes") ?? 0, bytes],
];

function delta(now, before, name) {
  return Math.max(0, (now.get(name) ?? 0) - (before.get(name) ?? 0));
}

function rate(now, before, dt, name) {
  return dt > 0 ? delta(now, before, name) / dt : 0;
}

/** Renders the dashboard; returns the function that stops polling. */
export async function render(main) {
  const series = TILES.map(() => []);
  const tiles = TILES.map(([label]) => {
    const value = h("div.value", {}, "…");
    const canvas = h("canvas", { width: 220, height: 48, "aria-hidden": "true" });
    return { element: h("div.tile", {}, h("div.label", {}, label), value, canvas), value, canvas };
  });
  const problem = h("div");
  replace(main, h("h1", {}, "Metrics"), problem, h("div.tiles#metric-tiles", {}, tiles.map((t) => t.element)));
  let before = null;
  let beforeAt = 0;
  const tick = async () => {
    try {
      const now = parsePrometheus(await call("GET", "/metrics"));
      const at = performance.now() / 1000;
      TILES.forEach(([, compute, format], i) => {
        const value = before ? compute(now, before, at - beforeAt) : compute(now, now, 0);
        series[i].push(value);
        if (series[i].length > POINTS) series[i].shift();
        tiles[i].value.textContent = format ? format(value) : value.toFixed(value < 10 && value % 1 ? 2 : 0);
        spark(tiles[i].canvas, series[i]);
      });
      before = now;
      beforeAt = at;
      replace(problem);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  await tick();
  const timer = setInterval(tick, INTERVAL_S * 1000);
  return () => clearInterval(timer);
}

function spark(canvas, values) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const max = Math.max(1e-9, ...values);
  context.strokeStyle = "#76b7b2";
  context.lineWidth = 1.5;
  context.beginPath();
  values.forEach((v, i) => {
    const x = (i / (POINTS - 1)) * width;
    const y = height - 2 - (v / max) * (height - 4);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}
