// The live dashboard of one game: snapshot first, then deltas by seq; redraws coalesced to
// one per animation frame; paused while the tab is hidden; replay and history views.
// Modules: lib/follow.js (the socket and the live state, by the protocol), dashboard/state.js
// (data), stats.js, statseries.js and teams.js (game stats and the match shown), charts.js,
// axes.js, views.js and scoreboard.js (drawing), picker.js (the stat picker), matches.js (the
// match picker), matchview.js (a picked match as a view of its own), modes.js (history ranges
// and replay), replay.js, history.js, chat.js.

import { ChatPanel } from "./dashboard/chat.js";
import { chartsCreate, historyRender, leadersRender, rateRender, timelineRender } from "./dashboard/charts.js";
import { backToLive, matchControlsCreate, rangeChange, replayStart } from "./dashboard/modes.js";
import { StatPicker } from "./dashboard/picker.js";
import { StatHistory } from "./dashboard/stathistory.js";
import { scoreboardRender } from "./dashboard/scoreboard.js";
import { LIMITS, leadersTop, rateRecent, stateMarkAll } from "./dashboard/state.js";
import { statFind, statRank } from "./dashboard/stats.js";
import { matchFrameApply } from "./dashboard/teams.js";
import { badgeRender, freshnessRender, kpisRender, recentRender, statHeadersRender, tableRender, viewersRender } from "./dashboard/views.js";
import { GameFollow } from "./lib/follow.js";

const FRESHNESS_TICK_MS = 250;
const RENDER_BUDGET = 4;
const RENDER_GAP_MAX_MS = 250;

const root = document.getElementById("dashboard");
const byId = (id) => document.getElementById(id);
const els = {
  badge: byId("conn-badge"),
  viewers: byId("viewers"),
  freshness: byId("freshness"),
  tbody: byId("leaderboard-table").tBodies[0],
  recent: byId("recent-list"),
  rateTitle: byId("rate-title"),
  rateNote: byId("rate-note"),
  ranges: Array.from(document.querySelectorAll('input[name="range"]')),
  replaySpeed: byId("replay-speed"),
  replayStart: byId("replay-start"),
  backLive: byId("back-live"),
  replayStatus: byId("replay-status"),
  replayMatch: byId("replay-match"),
  matchPicker: byId("match-picker"),
  heads: {
    valueHead: byId("value-head"),
    caption: byId("leaders-caption"),
    barsCanvas: byId("chart-leaders"),
    timelineTitle: byId("timeline-title"),
    timelineNote: byId("timeline-note"),
  },
  scoreboard: {
    root: byId("scoreboard"),
    score: byId("sb-score"),
    name: byId("sb-name"),
    status: byId("sb-status"),
    stat: byId("sb-stat"),
  },
  kpis: {
    points: byId("kpi-points"),
    events: byId("kpi-events"),
    players: byId("kpi-players"),
    rate: byId("kpi-rate"),
    seq: byId("kpi-seq"),
    playersNote: byId("players-note"),
  },
};

const stats = { frames: 0, events: 0, redraws: 0, snapshots: 0, gaps: 0, renderMs: 0, renderMaxMs: 0, partsMs: {} };
const follow = new GameFollow({
  wsPath: root.dataset.wsPath,
  stats,
  onChange: changeHandle,
  // A replay's badge says "replay" until it is left (modes.js), whatever the socket does.
  onStatus: (status) => app.replayState || badgeRender(els.badge, status),
  onFrame: frameOther,
});

// Exposed for the browser tests and the burst benchmark, which read charts and state.
const app = {
  config: {
    slug: root.dataset.slug,
    apiBase: root.dataset.apiBase,
    hiddenCloseMs: Number(root.dataset.hiddenCloseMs || 15_000),
  },
  follow,
  live: follow.state,
  socket: follow.socket,
  replayState: null,
  replay: null,
  charts: null,
  chat: null,
  range: "live",
  history: null,
  match: null, // picked in the match picker (null: the open match)
  matchView: null, // that match as a view of its own (matchview.js)
  statPicker: null,
  matches: null,
  paused: false,
  stats,
  rafId: 0,
  lastRenderEnd: 0,
  lastRenderMs: 0,
  timers: {},
  get state() {
    return viewState();
  },
  // The stat the leaderboard and the timeline show.
  get stat() {
    return statFind(viewState().stats, app.statPicker?.name ?? "points");
  },
  get degraded() {
    return follow.degraded;
  },
  get awaitingResume() {
    return follow.awaitingResume;
  },
};
window.webgame = app;

function viewState() {
  return app.replayState || app.matchView?.state || app.live;
}

// ---- incoming frames (the protocol itself is lib/follow.js's) -----------------------------

function changeHandle(frame) {
  // Chat is drawn as it comes, not per animation frame: a message is a single small row.
  if (frame.type === "snapshot" && Array.isArray(frame.chat)) app.chat?.snapshot(frame.chat);
  if (frame.type === "snapshot") snapshotSeen();
  if (frame.type === "events") app.matchView?.eventsSeen(frame.events);
  if (frame.type === "match" && frame.match) {
    app.matchView?.matchSeen(frame.match);
    matchFrameApply(app.live, frame.match);
    app.matches.reloadSoon();
    app.statPicker.statsReload();
  }
  // Presence is drawn by the freshness tick.
  if (frame.type !== "presence") renderSchedule();
}

function frameOther(frame) {
  if (frame.type === "chat") app.chat?.add(frame.message);
  else if (frame.type === "chat_deleted") app.chat?.remove(frame.id);
  else if (frame.type === "error" && !app.chat?.errorFrame(frame)) {
    console.warn("server error frame", frame.code, frame.message);
  }
}

// ---- drawing -----------------------------------------------------------------------------

// At most one redraw per animation frame, and never more than ~1/RENDER_BUDGET of the main
// thread: after a redraw of N ms the next waits at least N * RENDER_BUDGET ms.
function renderSchedule() {
  if (app.paused || app.rafId || app.timers.render) return;
  const wait = app.lastRenderEnd + app.lastRenderMs * RENDER_BUDGET - performance.now();
  if (wait <= 0) {
    app.rafId = requestAnimationFrame(render);
    return;
  }
  app.timers.render = setTimeout(() => {
    app.timers.render = 0;
    renderSchedule();
  }, Math.min(wait, RENDER_GAP_MAX_MS));
}

function render() {
  app.rafId = 0;
  if (app.paused) return;
  const state = viewState();
  const dirty = state.dirty;
  const stat = app.stat;
  const started = performance.now();
  if (dirty.leaders) timed("leaders", () => leadersDraw(state, stat));
  if (dirty.series && app.charts) timed("timeline", () => timelineRender(app.charts.timeline, state, stat));
  if (dirty.rate && app.charts) timed("rate", () => rateDraw(state));
  if (dirty.recent) timed("recent", () => recentRender(els.recent, state.recent));
  if (dirty.kpis) kpisRender(els.kpis, state, rateRecent(state, 5));
  if (dirty.match) scoreboardRender(els.scoreboard, state.match, stat, state.mode === "replay" && !state.replayDone);
  state.dirty = { leaders: false, series: false, rate: false, recent: false, kpis: false, match: false };
  const took = performance.now() - started;
  app.lastRenderEnd = started + took;
  app.lastRenderMs = took;
  app.stats.redraws += 1;
  app.stats.renderMs += took;
  app.stats.renderMaxMs = Math.max(app.stats.renderMaxMs, took);
}

// Time spent per part of a redraw, for the burst benchmark (a few performance.now() calls).
function timed(part, draw) {
  const started = performance.now();
  draw();
  app.stats.partsMs[part] = (app.stats.partsMs[part] || 0) + performance.now() - started;
}

function leadersDraw(state, stat) {
  const rows = leaderRows(state, stat);
  tableRender(els.tbody, rows, stat);
  if (app.charts) leadersRender(app.charts.leaders, rows, stat);
}

// The top list by the picked stat: points as they always were (by total, ranked 1, 2, 3...),
// another stat ranked here from the player records (ties share a rank).
function leaderRows(state, stat) {
  const team = (name) => state.players.get(name)?.team || "";
  if (stat.name === "points") {
    return leadersTop(state).map((p, i) => ({ player: p.player, team: p.team || "", value: p.total, rank: i + 1, events: p.events }));
  }
  const { rows, guesses } = statRank(state.players, stat, LIMITS.leaderboard);
  if (state === app.live) app.statPicker.guessesSeen(guesses);
  return rows.map((row) => ({ ...row, team: team(row.player) }));
}

// ---- stats and matches ---------------------------------------------------------------------

function snapshotSeen() {
  app.statPicker.snapshotSeen();
  app.matches.reloadSoon();
}

// The picked stat, or its data, changed: every part that shows it is drawn again.
function statChanged() {
  statHeadersRender(els.heads, app.stat);
  for (const state of [app.live, app.replayState, app.matchView?.state]) {
    if (state) Object.assign(state.dirty, { leaders: true, series: true, match: true });
  }
  renderSchedule();
}

function rateDraw(state) {
  if (app.range === "live" || app.replayState) rateRender(app.charts.rate, state);
  else if (app.history) historyRender(app.charts.rate, app.history);
}

function freshnessTick() {
  if (app.paused) return;
  // A replay is not live: no "updated … ago · lag …" about it.
  if (app.replayState) els.freshness.textContent = app.replayState.replayDone ? "replay finished" : "replaying the log";
  else freshnessRender(els.freshness, app.live, Date.now());
  viewersRender(els.viewers, app.live.viewers);
}

// The per-second chart slides even when no event arrives.
function rateTick() {
  const state = viewState();
  if (app.range !== "live" && !app.replayState) return;
  state.dirty.rate = true;
  state.dirty.kpis = true;
  renderSchedule();
}

// ---- hidden tab --------------------------------------------------------------------------

function visibilityHandle() {
  if (document.hidden) {
    app.paused = true;
    cancelAnimationFrame(app.rafId);
    clearTimeout(app.timers.render);
    app.rafId = 0;
    app.timers.render = 0;
    app.replay?.setPaused(true);
    // A short look elsewhere keeps the socket; a long one frees it (and the viewer slot).
    app.timers.hidden = setTimeout(() => app.socket.stop("paused"), app.config.hiddenCloseMs);
    return;
  }
  clearTimeout(app.timers.hidden);
  app.paused = false;
  app.replay?.setPaused(false);
  // Reconnecting brings a snapshot first: the page catches up from there.
  if (app.socket.stopped && app.socket.status !== "gone") app.socket.start();
  stateMarkAll(viewState());
  renderSchedule();
}

// ---- start -------------------------------------------------------------------------------

function controlsBind() {
  const page = { app, els, root, renderSchedule, snapshotSeen };
  for (const input of els.ranges) input.addEventListener("change", () => input.checked && rangeChange(page, input.value));
  els.replayStart.addEventListener("click", () => replayStart(page));
  els.replayMatch.addEventListener("click", () => app.match && replayStart(page, app.match));
  app.statPicker = new StatPicker({
    select: byId("stat-picker"),
    apiBase: app.config.apiBase,
    live: () => app.live,
    onChange: statChanged,
    onTop: (state, stat) => statHistory.load(state, stat),
  });
  const statHistory = new StatHistory({ apiBase: app.config.apiBase, onChange: renderSchedule });
  matchControlsCreate(page);
  els.backLive.addEventListener("click", () => backToLive(page));
  els.replaySpeed.addEventListener("change", () => {
    if (app.replay) app.replay.speed = Number(els.replaySpeed.value);
  });
  document.addEventListener("visibilitychange", visibilityHandle);
}

function init() {
  if (window.Chart) {
    app.charts = chartsCreate(window.Chart, {
      timeline: byId("chart-timeline"),
      leaders: byId("chart-leaders"),
      rate: byId("chart-rate"),
    });
  } else {
    console.error("Chart.js did not load; the tables still update");
  }
  controlsBind();
  const chatRoot = byId("chat");
  if (chatRoot) app.chat = new ChatPanel(chatRoot, (frame) => app.socket.send(frame));
  setInterval(freshnessTick, FRESHNESS_TICK_MS);
  setInterval(rateTick, 1000);
  app.matches.load();
  follow.start();
  if (document.hidden) visibilityHandle();
}

init();
