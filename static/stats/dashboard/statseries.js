// Each player's running value of the game's stats over time, for the timeline of a picked stat
// other than points (the points lines are state.series): state.statSeries is a Map of stat
// name -> Map of player -> [{x: at_ms, y}], bounded as the points lines are (LIMITS).
//
// Values are all-time ones, like the leaderboard's. Through a run of events, each player's
// value of a stat starts from what is known before the run: an incr stat's is walked back from
// the absolute value the run ends with (an events frame's players[].stats, a snapshot's
// leaderboard), a best or set stat's is what the state knew before (none: its line starts at
// the first event). A replay starts from zero. Each event then applies its stats by their
// operator (incr: sum, best: the better by the order, set: the last). A derived stat gets a
// point whenever one of its parts changes, from both parts' values at that moment.

import { POINTS, partOf, ratio, statDerived, statMerge } from "./stats.js";

function tracked(stats) {
  const plain = new Map();
  const derived = [];
  for (const s of stats || []) {
    if (s.name === "points") continue;
    if (statDerived(s)) derived.push(s);
    else plain.set(s.name, s);
  }
  if (plain.size === 0) return null;
  const usesPoints = derived.some((d) => d.numerator === "points" || d.denominator === "points");
  if (usesPoints) plain.set("points", POINTS); // a part of a ratio, never a line of its own here
  return { plain, derived, usesPoints };
}

// Whether an event changes a ratio's numerator or denominator.
function touches(ctx, e, stat) {
  if (ctx.usesPoints && (stat.numerator === "points" || stat.denominator === "points")) return true;
  return Boolean(e.stats) && (e.stats[stat.numerator] !== undefined || e.stats[stat.denominator] !== undefined);
}

// events: a run in seq order. finals: Map player -> record after the run ({total, stats}), or
// null for a replay (from zero). before(name): the player's record before the run, if known.
export function statSeriesAdd(state, events, finals, before, limits) {
  const track = tracked(state.stats);
  if (!track) return;
  const ctx = { ...track, state, finals, before, limits, sums: new Map(), runs: new Map() };
  if (finals) sumsCount(ctx, events);
  for (const e of events) if (e.stats || ctx.usesPoints) eventApply(ctx, e);
}

// Per player and incr stat, the sum of the run's values (to walk back from the final value).
function sumsCount(ctx, events) {
  const add = (player, name, value) => {
    if (ctx.plain.get(name)?.op !== "incr") return;
    let sums = ctx.sums.get(player);
    if (!sums) ctx.sums.set(player, (sums = new Map()));
    sums.set(name, (sums.get(name) || 0) + value);
  };
  for (const e of events) {
    if (ctx.usesPoints) add(e.player, "points", e.points);
    if (e.stats) for (const name in e.stats) add(e.player, name, e.stats[name]);
  }
}

function eventApply(ctx, e) {
  let run = ctx.runs.get(e.player);
  if (!run) ctx.runs.set(e.player, (run = new Map()));
  let touched = ctx.usesPoints && changeApply(ctx, run, e, "points", e.points);
  if (e.stats) for (const name in e.stats) touched = changeApply(ctx, run, e, name, e.stats[name]) || touched;
  if (!touched) return;
  for (const d of ctx.derived) if (touches(ctx, e, d)) derivedPush(ctx, d, run, e);
}

// One stat's change by one event: the running value, and a point on its line.
function changeApply(ctx, run, e, name, value) {
  const stat = ctx.plain.get(name);
  if (!stat) return false;
  const was = valueNow(ctx, run, e.player, name);
  const now = stat.op === "incr" && was === undefined ? undefined : statMerge(stat, was, value);
  run.set(name, now);
  if (now !== undefined && name !== "points") linePush(ctx, name, e.player, e.at_ms, now, was);
  return true;
}

// The player's value of a plain stat at this point of the run.
function valueNow(ctx, run, player, name) {
  if (!run.has(name)) run.set(name, valueStart(ctx, player, name));
  return run.get(name);
}

// A record is `full` when it holds every stat of the player: a missing one is none yet.
function valueStart(ctx, player, name) {
  const prior = ctx.before(player);
  const known = partOf(prior, name);
  if (ctx.plain.get(name).op !== "incr") return known; // best, set: what was known before
  if (ctx.finals) {
    const record = ctx.finals.get(player);
    const final = partOf(record, name) ?? (record?.full ? 0 : undefined);
    if (final !== undefined) return final - (ctx.sums.get(player)?.get(name) || 0);
  }
  if (known !== undefined) return known;
  return noneYet(ctx, player) ? 0 : undefined;
}

// Whether a stat the player has no value of is none yet (rather than unknown here).
function noneYet(ctx, player) {
  return !ctx.finals || Boolean(ctx.before(player)?.full) || Boolean(ctx.finals.get(player)?.full);
}

function derivedPush(ctx, stat, run, e) {
  const none = noneYet(ctx, e.player);
  const part = (name) => valueNow(ctx, run, e.player, name) ?? (none ? 0 : undefined);
  const numerator = part(stat.numerator);
  const denominator = part(stat.denominator);
  if (numerator === undefined || denominator === undefined) return;
  linePush(ctx, stat.name, e.player, e.at_ms, ratio(numerator, denominator), undefined);
}

function linePush(ctx, name, player, x, y, before) {
  const { state, limits } = ctx;
  let lines = state.statSeries.get(name);
  if (!lines) state.statSeries.set(name, (lines = new Map()));
  let line = lines.get(player);
  if (!line) {
    if (lines.size >= limits.seriesPlayers) linesPrune(state, name, lines, limits);
    line = before === undefined ? [] : [{ x, y: before }];
    lines.set(player, line);
  }
  line.push({ x, y });
  // Trim in chunks, as the points lines are.
  if (line.length > limits.seriesPoints + 60) line.splice(0, line.length - limits.seriesPoints);
}

// The lines of the best half by their last value (the players' values now), by the stat's order.
function linesPrune(state, name, lines, limits) {
  const sign = state.stats.find((s) => s.name === name)?.order === "asc" ? 1 : -1;
  const ranked = Array.from(lines, ([player, line]) => [player, line.length ? line[line.length - 1].y : 0]);
  ranked.sort((a, b) => sign * (a[1] - b[1]));
  for (const [player] of ranked.slice(limits.seriesPlayers / 2)) lines.delete(player);
}

// The line of `player` for `stat` (undefined: none).
export function statLine(state, stat, player) {
  return state.statSeries.get(stat.name)?.get(player);
}
