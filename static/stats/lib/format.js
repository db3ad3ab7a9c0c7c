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

export function formatAgo(ms) {
  const abs = Math.max(0, ms);
  if (abs < 60_000) return `${(abs / 1000).toFixed(1)} s`;
  return formatDuration(abs);
}
