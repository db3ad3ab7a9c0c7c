// Chart.js set-up and drawing. Streaming updates never animate: the data arrays are mutated
// in place and each chart is redrawn with update("none").
// Sparse data must still read well: a chart without data is dimmed behind a message (never
// axes of "0, 0, 1, 1"); a short series shows its points (one point is no line); the axes
// (axes.js) hug the data and never repeat a label. The timeline and the bars show the picked
// stat (points by default).

import { formatClock, formatTimeTick, nameShort } from "../lib/format.js";
import { barExtent, chartStatSet, extent, intAxis, intTicks, timeLimits, timeTickLabel, timeTicksBuild, valueLabel } from "./axes.js";
import { LIMITS, leadersTop, ratePrune, stateNow } from "./state.js";
import { statLine } from "./statseries.js";
import { POINTS, statRank } from "./stats.js";

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

// A series this short shows its points: a line needs two, and a few are easier to read as dots.
const SHORT_SERIES = 30;
const POINT_RADIUS = 3;

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
            label: (item) => valueLabel(item, item.parsed.y),
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
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => valueLabel(item, item.parsed.x) } } },
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

// The running value of `stat` (points by default) of the top 5 by it.
export function timelineRender(chart, state, stat = POINTS) {
  chartStatSet(chart, stat);
  let lines;
  if (stat.name === "points") {
    lines = leadersTop(state, 5).map((p) => [p.player, state.series.get(p.player)]);
  } else {
    lines = statRank(state.players, stat, 5).rows.map((row) => [row.player, statLine(state, stat, row.player)]);
  }
  const ranked = lines.length;
  lines = lines.filter(([, line]) => line?.length);
  chart.data.datasets = lines.map(([name, line]) => lineDataset(name, line));
  emptySet(chart, lines.length ? null : timelineEmpty(stat, ranked));
  chart.update("none");
}

// No line to draw: none yet, or (players have values) none in the events the lines are made of.
function timelineEmpty(stat, ranked) {
  if (stat.name === "points") return "No events yet";
  return ranked ? `No ${stat.label} in the recent events` : `No ${stat.label} yet`;
}

// rows: [{player, value}] in rank order (the picked stat's, points by default).
export function leadersRender(chart, rows, stat = POINTS) {
  chartStatSet(chart, stat);
  const top = rows.slice(0, 10);
  emptySet(chart, top.length ? null : stat.name === "points" ? "No events yet" : `No ${stat.label} yet`);
  chart.data.labels = top.map((p) => p.player);
  chart.data.datasets[0].label = stat.label;
  chart.data.datasets[0].data = top.map((p) => p.value);
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
