// Chart.js set-up and drawing. Streaming updates never animate: the data arrays are mutated
// in place and each chart is redrawn with update("none").

import { formatClock, formatClockShort, formatInt } from "../lib/format.js";
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

const intTicks = { callback: (v) => formatInt(v), maxTicksLimit: 6 };

function timelineCreate(Chart, canvas) {
  return new Chart(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      parsing: false,
      spanGaps: true, // one path per line: much cheaper to draw
      interaction: { mode: "nearest", axis: "x", intersect: false },
      elements: { point: { radius: 0, hoverRadius: 4 }, line: { borderWidth: 2, tension: 0 } },
      scales: {
        x: { type: "linear", bounds: "data", ticks: { callback: (v) => formatClock(v), maxTicksLimit: 6, maxRotation: 0 } },
        y: { ticks: intTicks },
      },
      plugins: { tooltip: { callbacks: { title: (items) => formatClock(items[0].parsed.x) } } },
    },
  });
}

function leadersCreate(Chart, canvas) {
  return new Chart(canvas, {
    type: "bar",
    data: { labels: [], datasets: [{ label: "Points", data: [], backgroundColor: [], borderRadius: 4 }] },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { ticks: intTicks }, y: { grid: { display: false }, ticks: { autoSkip: false } } },
    },
  });
}

function rateCreate(Chart, canvas) {
  return new Chart(canvas, {
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
        y: { beginAtZero: true, ticks: { ...intTicks, precision: 0 } },
        y2: { position: "right", display: false, grid: { display: false }, ticks: intTicks },
      },
    },
  });
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
  return dataset;
}

export function timelineRender(chart, state) {
  const top = leadersTop(state, 5).filter((p) => state.series.has(p.player));
  chart.data.datasets = top.map((p) => lineDataset(p.player, state.series.get(p.player)));
  chart.update("none");
}

export function leadersRender(chart, leaders) {
  const top = leaders.slice(0, 10);
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
  for (let i = seconds - 1; i >= 0; i -= 1) {
    const second = end - i * 1000;
    labels.push(formatClock(second));
    counts.push(state.rate.get(second) || 0);
  }
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
  chart.data.labels = history.buckets.map(([ms]) => formatClockShort(ms));
  chart.data.datasets[0].data = history.buckets.map(([, events]) => events);
  chart.data.datasets[0].label = `Events/${unit}`;
  chart.data.datasets[1].data = history.buckets.map(([, , points]) => points);
  chart.data.datasets[1].label = `Points/${unit}`;
  chart.data.datasets[1].hidden = false;
  chart.options.scales.y2.display = true;
  chart.update("none");
}
