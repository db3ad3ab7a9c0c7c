// Chart.js set-up and drawing. Streaming updates never animate: the data arrays are mutated
// in place and each chart is redrawn with update("none").
// Sparse data must still read well: a chart without data is dimmed behind a message (never
// axes of "0, 0, 1, 1"); a short series shows its points (one point is no line); the timeline's
// axes hug the data (Chart.js rounds a range out to its next "nice" tick: one -15 among totals
// in the thousands pulled the axis down to -500) and its time ticks are round steps chosen by
// the visible span, with as many digits as the step needs, so no two labels are the same.

import { formatClock, formatInt, formatTimeTick, nameShort, niceStepFor, timeStep, timeTicks } from "../lib/format.js";
import { LIMITS, leadersTop, ratePrune, stateNow } from "./state.js";

const PALETTE = ["#60a5fa", "#f472b6", "#34d399", "#fbbf24", "#a78bfa", "#f87171", "#22d3ee", "#fb923c", "#a3e635", "#e879f9"];
const GRID = "rgba(148, 163, 184, 0.12)";
const TEXT = "#aab4d4";
const colors = new Map();

export function playerColor(name) {
  if (!colors.has(name)) colors.set(name, PALETTE[colors.size % PALETTE.length]);
  return colors.get(name);
}

function chartDefaults(Chart) {
  Chart.defaults.color = TEXT;
  Chart.defaults.borderColor = GRID;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.responsive = true;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  Chart.defaults.plugins.tooltip.backgroundColor = "rgba(11, 16, 32, 0.92)";
}

// Integer axes: precision 0 keeps Chart.js from steps below 1 (an empty axis was 0, 0.2, ...
// shown as "0, 0, 0, 1, 1, 1").
const intTicks = { callback: (v) => formatInt(v), maxTicksLimit: 6, precision: 0 };
// A series this short shows its points: a line needs two, and a few are easier to read as dots.
const SHORT_SERIES = 30;
const POINT_RADIUS = 3;
const TICK_MAX = 6;
const TIME_TICK_PX = 90; // room for "12:34:56.7"
const INT_TICK_PX = 36;
const INT_TICK_PX_WIDE = 50; // room for "1,000" side by side (Chart.js skips labels that collide)
const EMPTY_SPAN_MS = 60_000;

// ---- empty states --------------------------------------------------------------------------

const notes = new WeakMap();

// A message over the chart's box (the canvas stays, dimmed, so that Chart.js keeps its size).
function emptyNoteAdd(chart, text) {
  const box = chart.canvas.parentElement;
  const note = document.createElement("p");
  note.className = "chart-empty";
  note.textContent = text;
  box.append(note);
  box.classList.add("chart-box--empty");
  notes.set(chart, note);
}

// `text` null: the chart has data and shows it; otherwise the message replaces it.
function emptySet(chart, text) {
  const note = notes.get(chart);
  if (!note) return;
  const empty = text !== null;
  if (empty && note.textContent !== text) note.textContent = text;
  if (note.hidden === empty) note.hidden = !empty;
  chart.canvas.parentElement.classList.toggle("chart-box--empty", empty);
}

// ---- the timeline's axes ---------------------------------------------------------------------

// The smallest and largest x or y of the visible datasets (null without data).
function extent(chart, key) {
  let lo = Infinity;
  let hi = -Infinity;
  chart.data.datasets.forEach((dataset, i) => {
    if (!chart.isDatasetVisible(i)) return;
    for (const point of dataset.data) {
      const v = point[key];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  });
  return lo <= hi ? { lo, hi } : null;
}

// Time: the data's span and 2 % either side; one instant gets a minute around it, and no data
// the last minute (the axis is dimmed behind the empty message then).
function timeLimits(scale) {
  const span = extent(scale.chart, "x");
  if (!span) {
    scale.max = Date.now();
    scale.min = scale.max - EMPTY_SPAN_MS;
  } else if (span.hi === span.lo) {
    scale.min = span.lo - EMPTY_SPAN_MS / 2;
    scale.max = span.hi + EMPTY_SPAN_MS / 2;
  } else {
    const margin = (span.hi - span.lo) * 0.02;
    scale.min = span.lo - margin;
    scale.max = span.hi + margin;
  }
}

function timeTicksBuild(scale) {
  const count = Math.max(2, Math.min(TICK_MAX, Math.floor(scale.width / TIME_TICK_PX)));
  const span = scale.max - scale.min;
  const step = timeStep(span, count);
  scale.$timeStep = step;
  scale.ticks = timeTicks(scale.min, scale.max, step).map((value) => ({ value }));
}

function timeTickLabel(value) {
  return formatTimeTick(value, this.$timeStep || 1000, this.max - this.min);
}

// The smallest and largest bar (with 0: bars grow from it).
function barExtent(chart) {
  const values = chart.data.datasets[0]?.data ?? [];
  if (!values.length) return null;
  return { lo: Math.min(0, ...values), hi: Math.max(0, ...values) };
}

// Points: the data's range and a small margin (at least 1), never rounded out to a "nice"
// tick as Chart.js does (bounds "ticks"); bars keep 0 as their edge when all are on one side.
function intLimits(extentOf, zeroEdge) {
  return (scale) => {
    const range = extentOf(scale.chart);
    if (!range) {
      scale.min = 0;
      scale.max = 1;
      return;
    }
    const margin = Math.max((range.hi - range.lo) * 0.06, 1);
    scale.min = zeroEdge && range.lo === 0 ? 0 : range.lo - margin;
    scale.max = zeroEdge && range.hi === 0 ? 0 : range.hi + margin;
    if (scale.max <= scale.min) scale.max = scale.min + 1; // bars all at 0
  };
}

// Whole numbers at a 1-2-5 step inside the range: no repeated label.
function intTicksBuild(scale) {
  const room = scale.isHorizontal() ? scale.width / INT_TICK_PX_WIDE : scale.height / INT_TICK_PX;
  const step = niceStepFor(scale.max - scale.min, Math.max(3, Math.min(TICK_MAX, Math.floor(room))), 1);
  const ticks = [];
  for (let value = Math.ceil(scale.min / step) * step; value <= scale.max; value += step) {
    ticks.push({ value: value + 0 }); // + 0: never "-0"
  }
  scale.ticks = ticks;
}

// Options of an integer axis whose range follows the data.
function intAxis(extentOf, zeroEdge = false) {
  return { bounds: "data", afterDataLimits: intLimits(extentOf, zeroEdge), afterBuildTicks: intTicksBuild, ticks: intTicks };
}

// ---- charts ----------------------------------------------------------------------------------

function timelineCreate(Chart, canvas) {
  const legendItems = Chart.defaults.plugins.legend.labels.generateLabels;
  const chart = new Chart(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      parsing: false,
      spanGaps: true, // one path per line: much cheaper to draw
      interaction: { mode: "nearest", axis: "x", intersect: false },
      elements: { point: { radius: 0, hoverRadius: 4 }, line: { borderWidth: 2, tension: 0 } },
      scales: {
        x: {
          type: "linear",
          bounds: "data",
          afterDataLimits: timeLimits,
          afterBuildTicks: timeTicksBuild,
          ticks: { callback: timeTickLabel, maxRotation: 0 },
        },
        y: intAxis((chart) => extent(chart, "y")),
      },
      plugins: {
        // Long names are cut in the legend (the dataset keeps the full name: the tooltip shows
        // it, and so does the canvas's title while the pointer is on a legend item).
        legend: {
          labels: { generateLabels: (c) => legendItems(c).map((item) => ({ ...item, text: nameShort(item.text) })) },
          onHover: (event, item, legend) => {
            legend.chart.canvas.title = legend.chart.data.datasets[item.datasetIndex]?.label ?? "";
          },
          onLeave: (event, item, legend) => {
            legend.chart.canvas.title = "";
          },
        },
        tooltip: {
          callbacks: {
            title: (items) => {
              const step = items[0].chart.scales.x.$timeStep || 1000;
              return formatTimeTick(items[0].parsed.x, Math.min(step, 1000));
            },
          },
        },
      },
    },
  });
  emptyNoteAdd(chart, "Waiting for data…");
  return chart;
}

// The category axis cuts long names; the labels (and so the tooltip's title) keep them whole.
function nameTickLabel(value) {
  return nameShort(this.getLabelForValue(value));
}

function leadersCreate(Chart, canvas) {
  const chart = new Chart(canvas, {
    type: "bar",
    data: { labels: [], datasets: [{ label: "Points", data: [], backgroundColor: [], borderRadius: 4 }] },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: {
        x: intAxis(barExtent, true),
        y: { grid: { display: false }, ticks: { autoSkip: false, callback: nameTickLabel } },
      },
    },
  });
  emptyNoteAdd(chart, "Waiting for data…");
  return chart;
}

function rateCreate(Chart, canvas) {
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: [],
      datasets: [
        { label: "Events", data: [], backgroundColor: "rgba(96, 165, 250, 0.75)", borderRadius: 2, yAxisID: "y" },
        { type: "line", label: "Points", data: [], borderColor: "#fbbf24", pointRadius: 0, borderWidth: 2, yAxisID: "y2", hidden: true },
      ],
    },
    options: {
      plugins: { legend: { display: false } },
      scales: {
        x: { grid: { display: false }, ticks: { maxTicksLimit: 7, maxRotation: 0, sampleSize: 4 } },
        y: { beginAtZero: true, ticks: intTicks },
        y2: { position: "right", display: false, grid: { display: false }, ticks: intTicks },
      },
    },
  });
  emptyNoteAdd(chart, "Waiting for data…");
  return chart;
}

export function chartsCreate(Chart, canvases) {
  chartDefaults(Chart);
  // Chart.js re-measures every tick label on each update; a sample is enough here.
  Chart.defaults.scales.linear.ticks.sampleSize = 8;
  return {
    timeline: timelineCreate(Chart, canvases.timeline),
    leaders: leadersCreate(Chart, canvases.leaders),
    rate: rateCreate(Chart, canvases.rate),
  };
}

// One dataset object per player, reused between redraws so Chart.js keeps its metadata.
const lineSets = new Map();

function lineDataset(name, data) {
  let dataset = lineSets.get(name);
  if (!dataset) {
    if (lineSets.size > 50) lineSets.clear();
    dataset = { label: name, data, borderColor: playerColor(name), backgroundColor: playerColor(name) };
    lineSets.set(name, dataset);
  }
  if (dataset.data !== data) dataset.data = data;
  const radius = data.length <= SHORT_SERIES ? POINT_RADIUS : 0;
  if (dataset.pointRadius !== radius) dataset.pointRadius = radius;
  return dataset;
}

export function timelineRender(chart, state) {
  const top = leadersTop(state, 5).filter((p) => state.series.get(p.player)?.length);
  chart.data.datasets = top.map((p) => lineDataset(p.player, state.series.get(p.player)));
  emptySet(chart, top.length ? null : "No events yet");
  chart.update("none");
}

export function leadersRender(chart, leaders) {
  const top = leaders.slice(0, 10);
  emptySet(chart, top.length ? null : "No events yet");
  chart.data.labels = top.map((p) => p.player);
  chart.data.datasets[0].data = top.map((p) => p.total);
  chart.data.datasets[0].backgroundColor = top.map((p) => playerColor(p.player));
  chart.update("none");
}

// Live: events per second over the last minute, from the state's per-second counts.
export function rateRender(chart, state) {
  ratePrune(state);
  const end = Math.floor(stateNow(state) / 1000) * 1000;
  const seconds = LIMITS.rateWindowMs / 1000;
  const labels = [];
  const counts = [];
  let events = 0;
  for (let i = seconds - 1; i >= 0; i -= 1) {
    const second = end - i * 1000;
    const count = state.rate.get(second) || 0;
    labels.push(formatClock(second)); // one label per second: never the same twice
    counts.push(count);
    events += count;
  }
  if (events) emptySet(chart, null);
  else emptySet(chart, state.game?.events ? `No events in the last ${seconds} s` : "No events yet");
  chart.data.labels = labels;
  chart.data.datasets[0].data = counts;
  chart.data.datasets[0].label = "Events/s";
  chart.data.datasets[1].data = [];
  chart.data.datasets[1].hidden = true;
  chart.options.scales.y2.display = false;
  chart.update("none");
}

// History: events (bars) and points (line) per rollup bucket.
export function historyRender(chart, history) {
  const minutes = history.bucket_ms / 60_000;
  const unit = minutes === 1 ? "min" : `${minutes} min`;
  const span = history.buckets.length ? history.buckets.at(-1)[0] - history.buckets[0][0] : 0;
  emptySet(chart, history.buckets.length ? null : "No events in this range");
  // Buckets are whole minutes (or wider) apart: minutes name them, and the date beyond a day.
  chart.data.labels = history.buckets.map(([ms]) => formatTimeTick(ms, history.bucket_ms, span));
  chart.data.datasets[0].data = history.buckets.map(([, events]) => events);
  chart.data.datasets[0].label = `Events/${unit}`;
  chart.data.datasets[1].data = history.buckets.map(([, , points]) => points);
  chart.data.datasets[1].label = `Points/${unit}`;
  chart.data.datasets[1].hidden = false;
  chart.options.scales.y2.display = true;
  chart.update("none");
}
