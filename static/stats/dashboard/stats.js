// Game stats on the dashboard: the stats a game declares (snapshot.stats, points first), a
// player's value of one, ranking by it and its text. A derived stat (numerator/denominator,
// op null) is numerator / max(denominator, 1), computed here from the two values, rounded as
// the server rounds it so that both rank ties alike. Ties share a rank (1, 2, 2, 4) and are
// ordered by name, as the leaderboard API does.

import { formatDurationMs, formatInt } from "../lib/format.js";

export const POINTS = Object.freeze({ name: "points", label: "Points", format: "integer", order: "desc", op: "incr" });

const ratioText = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const ratioTick = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function statDerived(stat) {
  return Boolean(stat?.numerator);
}

// The stat called `name` among `stats`, or points.
export function statFind(stats, name) {
  return (stats || []).find((s) => s.name === name) || POINTS;
}

export function statKnown(stats, name) {
  return name === "points" || (stats || []).some((s) => s.name === name);
}

// As stats.scoring.wire.ratio: a zero divisor counts as one, 4 decimals.
export function ratio(numerator, denominator) {
  return Math.round((numerator / Math.max(denominator, 1)) * 10_000) / 10_000;
}

// `current` after one more `value` under the stat's operator: incr adds, best keeps the
// better by the stat's order, set keeps the last. No current value yet: the value itself.
export function statMerge(stat, current, value) {
  if (current === undefined || current === null) return value;
  if (stat.op === "best") return stat.order === "asc" ? Math.min(current, value) : Math.max(current, value);
  if (stat.op === "set") return value;
  return current + value;
}

// A player record's value of a plain stat (points included): undefined when not known.
export function partOf(player, name) {
  if (!player) return undefined;
  if (name === "points") return player.total ?? undefined;
  const value = player.stats?.[name];
  return value !== undefined ? value : undefined;
}

// [value, guess]: a player's value of `stat` (undefined: unknown, or none recorded). A
// player's `stats` are all-time values; `full` says all of them are there (a missing one is
// none yet, 0 as a part of a ratio). Without one part of a ratio, the value the leaderboard
// API sent (`ratios`) stands in, and `guess` says it is out of date (a stat changed since).
export function playerValue(player, stat) {
  if (!statDerived(stat)) return [partOf(player, stat.name), false];
  const numerator = partOf(player, stat.numerator);
  const denominator = partOf(player, stat.denominator);
  const sent = player.ratios?.[stat.name];
  if (numerator === undefined && denominator === undefined) return [player.full ? undefined : sent, false];
  if ((numerator === undefined || denominator === undefined) && !player.full) {
    return [sent, sent !== undefined && Boolean(player.ratiosStale)];
  }
  return [ratio(numerator ?? 0, denominator ?? 0), false];
}

function byName(a, b) {
  return a.player < b.player ? -1 : a.player > b.player ? 1 : 0;
}

// The top `n` players of `players` (a Map of records) by `stat`: {rows: [{player, value,
// rank, events}], guesses: how many of the rows stand on a value that may be out of date}.
export function statRank(players, stat, n) {
  const rows = [];
  for (const p of players.values()) {
    const [value, guess] = playerValue(p, stat);
    if (value !== undefined) rows.push({ player: p.player, value, rank: 0, events: p.events, guess });
  }
  const sign = stat.order === "asc" ? 1 : -1;
  rows.sort((a, b) => sign * (a.value - b.value) || byName(a, b));
  const top = rows.slice(0, n);
  let guesses = 0;
  top.forEach((row, i) => {
    row.rank = i > 0 && row.value === top[i - 1].value ? top[i - 1].rank : i + 1;
    if (row.guess) guesses += 1;
  });
  return { rows: top, guesses };
}

// A value as the stat's format reads: integers grouped, durations as m:ss.mmm (0:59.999 next
// to 1:01.234), percents with their sign; a ratio (a derived stat, or format "ratio") with 2
// decimals (a derived percent: the ratio times 100).
function ratioLike(stat) {
  return statDerived(stat) || stat.format === "ratio";
}

export function statFormat(stat, value) {
  if (value === undefined || value === null || Number.isNaN(value)) return "–";
  if (ratioLike(stat)) {
    return stat.format === "percent" ? `${ratioText.format(value * 100)} %` : ratioText.format(value);
  }
  if (stat.format === "duration_ms") return formatDurationMs(value);
  if (stat.format === "percent") return `${formatInt(value)} %`;
  return formatInt(value);
}

// An axis label: as statFormat, with no trailing zeros on ratios.
export function statTickFormat(stat) {
  if (ratioLike(stat)) return stat.format === "percent" ? (v) => `${ratioTick.format(v * 100)} %` : (v) => ratioTick.format(v);
  return (value) => statFormat(stat, value);
}

// The smallest step an axis of this stat may take (ratios have decimals).
export function statStepMin(stat) {
  return ratioLike(stat) ? 0.01 : 1;
}

// ---- the picked stat in the URL (?stat=kills) ------------------------------------------------

export function statFromUrl(search) {
  return new URLSearchParams(search).get("stat") || "points";
}

// The page's URL with `name` picked (points: no parameter), the rest of it kept.
export function statUrl(href, name) {
  const url = new URL(href);
  if (name === "points") url.searchParams.delete("stat");
  else url.searchParams.set("stat", name);
  return `${url.pathname}${url.search}${url.hash}`;
}
