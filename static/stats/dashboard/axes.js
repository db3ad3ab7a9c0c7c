// The charts' axes. The timeline's hug the data (Chart.js rounds a range out to its next
// "nice" tick: one -15 among totals in the thousands pulled the axis down to -500), and its time
// ticks are round steps chosen by the visible span, with as many digits as the step needs, so
// no two labels are the same. Value axes show the picked stat: its format (chart.$tickFormat)
// and steps no finer than it allows (chart.$stepMin: 1, or 0.01 for a ratio).

import { formatInt, formatTimeTick, niceStepFor, timeStep, timeTicks } from "../lib/format.js";
import { statFormat, statStepMin, statTickFormat } from "./stats.js";

// Integer axes: precision 0 keeps Chart.js from steps below 1 (an empty axis was 0, 0.2, ...
// shown as "0, 0, 0, 1, 1, 1").
export const intTicks = { callback: (v) => formatInt(v), maxTicksLimit: 6, precision: 0 };
const valueTicks = {
  callback(v) {
    return (this.chart.$tickFormat || formatInt)(v);
  },
  maxTicksLimit: 6,
};
const TICK_MAX = 6;
const TIME_TICK_PX = 90; // room for "12:34:56.7"
const INT_TICK_PX = 36;
const INT_TICK_PX_WIDE = 50; // room for "1,000" side by side (Chart.js skips labels that collide)
const EMPTY_SPAN_MS = 60_000;

// The smallest and largest x or y of the visible datasets (null without data).
export function extent(chart, key) {
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
export function timeLimits(scale) {
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

export function timeTicksBuild(scale) {
  const count = Math.max(2, Math.min(TICK_MAX, Math.floor(scale.width / TIME_TICK_PX)));
  const span = scale.max - scale.min;
  const step = timeStep(span, count);
  scale.$timeStep = step;
  scale.ticks = timeTicks(scale.min, scale.max, step).map((value) => ({ value }));
}

export function timeTickLabel(value) {
  return formatTimeTick(value, this.$timeStep || 1000, this.max - this.min);
}

// The smallest and largest bar (with 0: bars grow from it).
export function barExtent(chart) {
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
    const margin = Math.max((range.hi - range.lo) * 0.06, scale.chart.$stepMin || 1);
    scale.min = zeroEdge && range.lo === 0 ? 0 : range.lo - margin;
    scale.max = zeroEdge && range.hi === 0 ? 0 : range.hi + margin;
    if (scale.max <= scale.min) scale.max = scale.min + 1; // bars all at 0
  };
}

// Whole numbers at a 1-2-5 step inside the range: no repeated label.
function intTicksBuild(scale) {
  const room = scale.isHorizontal() ? scale.width / INT_TICK_PX_WIDE : scale.height / INT_TICK_PX;
  const step = niceStepFor(scale.max - scale.min, Math.max(3, Math.min(TICK_MAX, Math.floor(room))), scale.chart.$stepMin || 1);
  const digits = step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9); // 0.05 + 0.1 is not 0.15
  const ticks = [];
  for (let i = Math.ceil(scale.min / step); i * step <= scale.max; i += 1) {
    ticks.push({ value: Number((i * step).toFixed(digits)) + 0 }); // + 0: never "-0"
  }
  scale.ticks = ticks;
}

// Options of a value axis (whole numbers unless the stat is a ratio) that follows the data.
export function intAxis(extentOf, zeroEdge = false) {
  return { bounds: "data", afterDataLimits: intLimits(extentOf, zeroEdge), afterBuildTicks: intTicksBuild, ticks: valueTicks };
}

// The picked stat's format on a chart's value axis and tooltips.
export function chartStatSet(chart, stat) {
  if (chart.$stat === stat) return;
  chart.$stat = stat;
  chart.$stepMin = statStepMin(stat);
  chart.$tickFormat = statTickFormat(stat);
  chart.$valueFormat = (value) => statFormat(stat, value);
}

export function valueLabel(item, value) {
  const format = item.chart.$valueFormat || formatInt;
  return `${item.dataset.label}: ${format(value)}`;
}
