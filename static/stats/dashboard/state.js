// The dashboard's data, kept apart from drawing. Live frames carry absolute totals (set, never
// add); a replay reads the log from seq 0 (or a match's first seq), so there totals are sums of
// the events. Game stats: each player record keeps its all-time `stats` (merged from frames,
// which carry only the changed ones), statseries.js their lines, teams.js the match shown.

import { POINTS, statMerge } from "./stats.js";
import { statSeriesAdd } from "./statseries.js";
import { matchCopy, matchEventsAdd, teamsFrameApply } from "./teams.js";

export const LIMITS = {
  seriesPoints: 300, // per player, like the snapshot's window
  seriesPlayers: 40,
  recent: 50,
  rateWindowMs: 60_000,
  leaderboard: 20,
  playersKept: 500, // live only: beyond this the lowest are forgotten (frames bring them back)
};

const CLOCK_TRUST_MS = 1000;
// The record of a player before their first event: nothing yet, and that for sure.
const NOTHING = Object.freeze({ total: 0, events: 0, stats: Object.freeze({}), full: true });

export function stateCreate(mode) {
  return {
    mode, // "live" or "replay"
    lastSeq: 0,
    game: null,
    playerCount: null,
    players: new Map(), // name -> {player, total, events, stats, team, full, ratios?}
    series: new Map(), // name -> [{x: at_ms, y: running total}]
    stats: [POINTS], // the game's declared stats, points first
    statSeries: new Map(), // stat -> name -> [{x: at_ms, y: running value}] (statseries.js)
    statTouched: null, // while the leaderboard API is asked: the "player\0stat" frames set meanwhile
    match: null, // the match shown, with its teams' totals (teams.js)
    rate: new Map(), // second (ms) -> events
    recent: [],
    viewers: null,
    clockOffsetMs: 0, // server clock minus this browser's clock
    nowMs: 0, // replay only: the replay clock
    lastDataAt: 0,
    lagMs: null,
    dirty: dirtyAll(),
  };
}

function dirtyAll() {
  return { leaders: true, series: true, rate: true, recent: true, kpis: true, viewers: true, match: true };
}

export function stateMarkAll(state) {
  state.dirty = dirtyAll();
}

export function stateNow(state) {
  return state.mode === "replay" ? state.nowMs : Date.now() + state.clockOffsetMs;
}

export function snapshotApply(state, snap, arrivedMs) {
  const before = state.players;
  const seenSeq = snap.seq >= state.lastSeq ? state.lastSeq : 0; // a new game under this slug: start over
  if (seenSeq === 0) state.statSeries = new Map();
  state.lastSeq = snap.seq;
  state.game = snap.game;
  state.playerCount = snap.players;
  // The leaderboard's records hold every declared stat of theirs: `full`.
  state.players = new Map(snap.leaderboard.map((p) => [p.player, { ...p, stats: { ...p.stats }, full: true }]));
  state.stats = Array.isArray(snap.stats) && snap.stats.length ? snap.stats : [POINTS];
  state.match = matchCopy(snap.match);
  // Stat lines: kept, and extended by the recent events this page had not seen.
  const unseen = snap.recent.filter((e) => e.seq > seenSeq);
  statSeriesAdd(state, unseen, state.players, (name) => (seenSeq ? before.get(name) : undefined), LIMITS);
  state.series = new Map(snap.series.map((s) => [s.player, s.points.map(([x, y]) => ({ x, y }))]));
  state.rate = new Map(snap.rate.map(([second, n]) => [second, n]));
  state.recent = snap.recent.slice(-LIMITS.recent);
  if (typeof snap.viewers === "number") state.viewers = snap.viewers;
  if (typeof snap.server_ms === "number") {
    // Synced clocks (the usual case) are trusted as they are, so the lag figure keeps the
    // transit time; only a clearly wrong browser clock is corrected from the server's.
    const offset = snap.server_ms - arrivedMs;
    state.clockOffsetMs = Math.abs(offset) > CLOCK_TRUST_MS ? offset : 0;
  }
  state.lastDataAt = arrivedMs;
  stateMarkAll(state);
}

// Returns "applied", "stale" (nothing new) or "gap" (events are missing before this frame).
export function eventsFrameApply(state, frame, arrivedMs) {
  const fresh = frame.events.filter((e) => e.seq > state.lastSeq);
  if (fresh.length === 0) return "stale";
  if (fresh[0].seq > state.lastSeq + 1) return "gap";
  const finals = new Map(frame.players.map((p) => [p.player, p]));
  const counts = eventsPerPlayer(fresh);
  playersCountNew(state, counts, finals);
  // A player whose events are all in this frame had nothing before it: every stat is known.
  const joined = (name) => finals.get(name)?.events === counts.get(name);
  statSeriesAdd(state, fresh, finals, (name) => state.players.get(name) ?? (joined(name) ? NOTHING : undefined), LIMITS);
  for (const p of frame.players) playerSet(state, p, joined(p.player));
  seriesFromFinals(state, fresh, finals);
  teamsFrameApply(state, frame.teams);
  for (const e of fresh) rateBump(state, e.received_ms);
  recentPush(state, fresh);
  const last = fresh[fresh.length - 1];
  state.lastSeq = last.seq;
  if (frame.game) state.game = frame.game;
  state.lagMs = arrivedMs + state.clockOffsetMs - last.at_ms;
  state.lastDataAt = arrivedMs;
  playersPrune(state);
  // The per-second chart is redrawn by the page's 1 s tick: more often would show nothing new.
  Object.assign(state.dirty, { leaders: true, series: true, recent: true, kpis: true });
  return "applied";
}

function eventsPerPlayer(events) {
  const counts = new Map();
  for (const e of events) counts.set(e.player, (counts.get(e.player) || 0) + 1);
  return counts;
}

// A player whose event count equals their events in this frame has just joined the game.
function playersCountNew(state, counts, finals) {
  if (state.playerCount === null) return;
  for (const [name, count] of counts) {
    if (finals.get(name)?.events === count) state.playerCount += 1;
  }
}

// A frame's record of a player: totals set, the stats it carries (the changed ones) merged
// into those known. `joined`: these are the player's first events, so every stat is known.
function playerSet(state, p, joined) {
  const known = state.players.get(p.player);
  let stats = known?.stats;
  if (p.stats) {
    stats = { ...stats, ...p.stats };
    if (state.statTouched) for (const name in p.stats) state.statTouched.add(`${p.player}\0${name}`);
  }
  state.players.set(p.player, {
    player: p.player,
    total: p.total,
    events: p.events,
    stats,
    team: p.team ?? known?.team,
    full: known ? known.full : joined,
    ratios: known?.ratios,
    // A ratio the API sent is out of date once a stat of the player changed.
    ratiosStale: Boolean(known?.ratios) && (known.ratiosStale || Boolean(p.stats)),
  });
}

// Each event's running total, walked back from the absolute totals after the frame.
function seriesFromFinals(state, events, finals) {
  const running = new Map();
  const points = [];
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const e = events[i];
    const after = running.has(e.player) ? running.get(e.player) : finals.get(e.player)?.total;
    if (after === undefined) continue;
    points.push([e.player, e.at_ms, after, after - e.points]);
    running.set(e.player, after - e.points);
  }
  for (let i = points.length - 1; i >= 0; i -= 1) seriesPush(state, ...points[i]);
}

function seriesPush(state, name, x, y, before) {
  let line = state.series.get(name);
  if (!line) {
    if (state.series.size >= LIMITS.seriesPlayers) seriesPrune(state);
    line = [{ x, y: before }];
    state.series.set(name, line);
  }
  line.push({ x, y });
  // Trim in chunks: one splice per 60 points instead of a shift per point.
  if (line.length > LIMITS.seriesPoints + 60) line.splice(0, line.length - LIMITS.seriesPoints);
}

function seriesPrune(state) {
  const keep = new Set(leadersTop(state, LIMITS.seriesPlayers / 2).map((p) => p.player));
  for (const name of state.series.keys()) if (!keep.has(name)) state.series.delete(name);
}

function rateBump(state, ms) {
  const second = Math.floor(ms / 1000) * 1000;
  state.rate.set(second, (state.rate.get(second) || 0) + 1);
}

export function ratePrune(state) {
  const oldest = stateNow(state) - LIMITS.rateWindowMs - 1000;
  for (const second of state.rate.keys()) if (second < oldest) state.rate.delete(second);
}

export function rateRecent(state, seconds) {
  const now = Math.floor(stateNow(state) / 1000) * 1000;
  let sum = 0;
  // The current second is still filling up: average over the last full ones.
  for (let i = 1; i <= seconds; i += 1) sum += state.rate.get(now - i * 1000) || 0;
  return sum / seconds;
}

function recentPush(state, events) {
  state.recent.push(...events);
  if (state.recent.length > LIMITS.recent) state.recent.splice(0, state.recent.length - LIMITS.recent);
}

function playersPrune(state) {
  if (state.players.size <= LIMITS.playersKept) return;
  const keep = leadersTop(state, LIMITS.playersKept / 2);
  state.players = new Map(keep.map((p) => [p.player, p]));
}

// By points. Records that only the leaderboard API of another stat brought (no total) are not
// ranked here.
export function leadersTop(state, n = LIMITS.leaderboard) {
  const all = [];
  for (const p of state.players.values()) if (p.total !== null && p.total !== undefined) all.push(p);
  all.sort((a, b) => b.total - a.total || (a.player < b.player ? -1 : a.player > b.player ? 1 : 0));
  return all.slice(0, n);
}

// Replay: the log is read from zero, so totals are the running sums of the events, and stats
// merge by their operator (incr: sum, best: the better by the order, set: the last).
export function replayEventsApply(state, events) {
  statSeriesAdd(state, events, null, (name) => state.players.get(name), LIMITS);
  const plain = new Map(state.stats.filter((s) => s.op && s.name !== "points").map((s) => [s.name, s]));
  matchEventsAdd(state, events, plain);
  for (const e of events) {
    const prev = state.players.get(e.player) || { player: e.player, total: 0, events: 0, stats: {}, full: true };
    const next = { ...prev, total: prev.total + e.points, events: prev.events + 1, stats: statsAdd(prev.stats, e, plain) };
    if (prev.events === 0) state.playerCount = (state.playerCount || 0) + 1;
    state.players.set(e.player, next);
    seriesPush(state, e.player, e.at_ms, next.total, prev.total);
    rateBump(state, e.at_ms);
    state.game.events += 1;
    state.game.points += e.points;
    state.game.last_seq = e.seq;
    state.lastSeq = e.seq;
  }
  recentPush(state, events);
  Object.assign(state.dirty, { leaders: true, series: true, recent: true, kpis: true });
}

function statsAdd(stats, e, plain) {
  if (!e.stats) return stats;
  const next = { ...stats };
  for (const name in e.stats) {
    const stat = plain.get(name);
    if (stat) next[name] = statMerge(stat, next[name], e.stats[name]);
  }
  return next;
}
