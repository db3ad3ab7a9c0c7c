// Number and time formatting shared by the lobby and the dashboard.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });

export function formatInt(value) {
  return value === null || value === undefined ? "–" : integer.format(value);
}

export function formatRate(value) {
  return value >= 100 ? integer.format(value) : decimal.format(value);
}

export function formatSigned(value) {
  return (value > 0 ? "+" : "") + integer.format(value);
}

export function formatClock(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatClockShort(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export function formatDuration(ms) {
  const abs = Math.max(0, ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 10_000) return `${(abs / 1000).toFixed(1)} s`;
  if (abs < 120_000) return `${Math.round(abs / 1000)} s`;
  if (abs < 7_200_000) return `${Math.round(abs / 60_000)} min`;
  return `${Math.round(abs / 3_600_000)} h`;
}

// A duration stat (a lap, a run): always m:ss.mmm, "0:59.999" next to "1:01.234" (a column of
// laps reads alike); never rounded.
export function formatDurationMs(ms) {
  const sign = ms < 0 ? "-" : "";
  const abs = Math.round(Math.abs(ms));
  const minutes = Math.floor(abs / 60_000);
  const seconds = Math.floor((abs % 60_000) / 1000);
  const millis = String(abs % 1000).padStart(3, "0");
  return `${sign}${minutes}:${String(seconds).padStart(2, "0")}.${millis}`;
}

export function formatAgo(ms) {
  const abs = Math.max(0, ms);
  if (abs < 60_000) return `${(abs / 1000).toFixed(1)} s`;
  return formatDuration(abs);
}

// ---- player names --------------------------------------------------------------------------

// The longest a player name is shown in the charts' labels and legends and in the tables (the
// API allows 64). Each place also has the full name: a title attribute, or the tooltip.
export const NAME_MAX = 36;
const graphemes = typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
const shortNames = new Map();

// `name` cut to `max` characters, the last being "…". Characters are what a reader sees
// (grapheme clusters), so an emoji, a flag or a letter with its accent is never split.
export function nameShort(name, max = NAME_MAX) {
  const text = String(name ?? "");
  const limit = Math.max(1, Math.floor(max));
  if (text.length <= limit) return text; // never more characters than UTF-16 units
  const key = `${limit}:${text}`;
  let short = shortNames.get(key);
  if (short === undefined) {
    const parts = graphemes ? Array.from(graphemes.segment(text), (s) => s.segment) : Array.from(text);
    short = parts.length <= limit ? text : `${parts.slice(0, limit - 1).join("").trimEnd()}…`;
    if (shortNames.size >= 1000) shortNames.clear();
    shortNames.set(key, short);
  }
  return short;
}

// ---- time axis -------------------------------------------------------------------------------

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY,
];

// The smallest round time step that puts at most `maxTicks` ticks on a span of `spanMs`.
export function timeStep(spanMs, maxTicks) {
  const spaces = Math.max(1, maxTicks - 1);
  for (const step of TIME_STEPS) if (Math.floor(spanMs / step) <= spaces) return step;
  return Math.ceil(spanMs / spaces / (7 * DAY)) * 7 * DAY;
}

// Ticks at whole multiples of a time step (local time for steps of an hour or more) in
// [min, max]: distinct instants, which formatTimeTick shows distinctly.
export function timeTicks(min, max, step) {
  const offset = step >= HOUR ? -new Date(min).getTimezoneOffset() * MINUTE : 0;
  const ticks = [];
  if (!(step > 0) || !Number.isFinite(min) || !Number.isFinite(max)) return ticks;
  for (let value = Math.ceil((min + offset) / step) * step - offset; value <= max; value += step) ticks.push(value);
  return ticks;
}

const pad2 = (n) => String(n).padStart(2, "0");

// A time label precise enough for ticks `stepMs` apart over `spanMs` never to repeat: the
// milliseconds' digits that the step needs, seconds below a minute, the date beyond a day.
export function formatTimeTick(ms, stepMs, spanMs = 0) {
  const d = new Date(ms);
  const date = `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  if (stepMs >= DAY) return date;
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (spanMs >= DAY) return `${date} ${hm}`;
  if (stepMs >= MINUTE) return hm;
  const hms = `${hm}:${pad2(d.getSeconds())}`;
  if (stepMs >= SECOND) return hms;
  const digits = stepMs % 100 === 0 ? 1 : stepMs % 10 === 0 ? 2 : 3;
  return `${hms}.${String(d.getMilliseconds()).padStart(3, "0").slice(0, digits)}`;
}

// The smallest of 1, 2, 5 x 10^n that is at least `raw` (and at least `min`).
export function niceStep(raw, min = 1) {
  const target = Math.max(raw, min);
  const power = 10 ** Math.floor(Math.log10(target));
  for (const m of [1, 2, 5, 10]) if (m * power >= target) return m * power;
  return 10 * power;
}

// The smallest 1-2-5 step (at least `min`) that puts at most `maxTicks` ticks on a span.
export function niceStepFor(span, maxTicks, min = 1) {
  const spaces = Math.max(1, maxTicks - 1);
  let step = niceStep(span / (spaces + 1), min);
  while (Math.floor(span / step) > spaces) step = niceStep(step * 1.5, min);
  return step;
}
