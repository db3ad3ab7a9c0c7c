// The dashboard's data, kept apart from drawing. Live frames carry absolute totals (set, never
// add); a replay reads the log from seq 0, so there totals are sums of the events.

export const LIMITS = {
  seriesPoints: 300, // per player, like the snapshot's window
  seriesPlayers: 40,
  recent: 50,
  rateWindowMs: 60_000,
  leaderboard: 20,
  playersKept: 500, // live only: beyond this the lowest are forgotten (frames bring them back)
};

const CLOCK_TRUST_MS = 1000;

export function stateCreate(mode) {
  return {
    mode, // "live" or "replay"
    lastSeq: 0,
    game: null,
    playerCount: null,
    players: new Map(), // name -> {player, total, events}
    series: new Map(), // name -> [{x: at_ms, y: running total}]
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
  return { leaders: true, series: true, rate: true, recent: true, kpis: true, viewers: true };
}

export function stateMarkAll(state) {
  state.dirty = dirtyAll();
}

export function stateNow(state) {
  return state.mode === "replay" ? state.nowMs : Date.now() + state.clockOffsetMs;
}

export function snapshotApply(state, snap, arrivedMs) {
  state.lastSeq = snap.seq;
  state.game = snap.game;
  state.playerCount = snap.players;
  state.players = new Map(snap.leaderboard.map((p) => [p.player, { ...p }]));
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
  playersCountNew(state, fresh, finals);
  for (const p of frame.players) playerSet(state, p);
  seriesFromFinals(state, fresh, finals);
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

// A player whose event count equals their events in this frame has just joined the game.
function playersCountNew(state, fresh, finals) {
  if (state.playerCount === null) return;
  const perPlayer = new Map();
  for (const e of fresh) perPlayer.set(e.player, (perPlayer.get(e.player) || 0) + 1);
  for (const [name, count] of perPlayer) {
    if (finals.get(name)?.events === count) state.playerCount += 1;
  }
}

function playerSet(state, p) {
  state.players.set(p.player, { player: p.player, total: p.total, events: p.events });
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

export function leadersTop(state, n = LIMITS.leaderboard) {
  const all = Array.from(state.players.values());
  all.sort((a, b) => b.total - a.total || (a.player < b.player ? -1 : a.player > b.player ? 1 : 0));
  return all.slice(0, n);
}

// Replay: the log is read from seq 0, so totals are the running sums of the events.
export function replayEventsApply(state, events) {
  for (const e of events) {
    const prev = state.players.get(e.player) || { player: e.player, total: 0, events: 0 };
    const next = { player: e.player, total: prev.total + e.points, events: prev.events + 1 };
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
