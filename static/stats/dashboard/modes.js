// The dashboard's two other views: history ranges (rollup buckets in the activity chart) and
// replay (the log played again on the same charts: all of it, or one match's events). A match
// picked (app.match) is what the "This match" range shows. `page` is {app, els, root,
// renderSchedule, snapshotSeen}.

import { formatInt, nameShort } from "../lib/format.js";
import { RANGE_TITLES, historyFetch } from "./history.js";
import { MatchPicker } from "./matches.js";
import { MatchView } from "./matchview.js";
import { Replay } from "./replay.js";
import { replayEventsApply, snapshotApply, stateCreate, stateMarkAll } from "./state.js";
import { matchCopy } from "./teams.js";
import { badgeRender } from "./views.js";

const HISTORY_REFRESH_MS = 30_000;

export function rangeChange(page, range) {
  const { app, els } = page;
  app.range = range;
  app.history = null;
  clearInterval(app.timers.history);
  const [title, note] = RANGE_TITLES[range];
  els.rateTitle.textContent = title;
  els.rateNote.textContent = rangeNote(app, range, note);
  if (range !== "live") {
    historyLoad(page);
    app.timers.history = setInterval(() => historyLoad(page), HISTORY_REFRESH_MS);
  }
  app.state.dirty.rate = true;
  page.renderSchedule();
}

function rangeNote(app, range, note) {
  if (range !== "match" || !app.match) return note;
  return `${nameShort(app.match.name || app.match.id, 40)} (${app.match.status}), per-minute rollups`;
}

async function historyLoad(page) {
  const { app, els } = page;
  const range = app.range;
  const match = app.match;
  try {
    const history = await historyFetch(app.config.apiBase, range, match?.id);
    if (app.range !== range || app.match !== match) return;
    app.history = history;
    els.rateNote.textContent = `${rangeNote(app, range, RANGE_TITLES[range][1])} · through seq ${formatInt(history.rolled_up_seq)}`;
    app.state.dirty.rate = true;
    page.renderSchedule();
  } catch (error) {
    els.rateNote.textContent = `could not load history: ${error.message}`;
  }
}

// The match picker (app.matches) and the view of the match picked (app.matchView).
export function matchControlsCreate(page) {
  const { app, els } = page;
  app.matches = new MatchPicker({
    select: els.matchPicker,
    apiBase: app.config.apiBase,
    onPick: (m) => matchPick(page, m),
    onLoad: (matches) => matchesListed(page, matches),
  });
  app.matchView = new MatchView({
    apiBase: app.config.apiBase,
    live: () => app.live,
    onChange: (state) => {
      stateMarkAll(state || app.live);
      page.renderSchedule();
    },
    onError: (error) => {
      els.replayStatus.textContent = `match not read: ${error.message}`;
    },
  });
}

// A match picked in the match picker: the whole page shows it (matchview.js: header, KPIs,
// leaderboard, timeline), its history ("This match"), and the replay button's target. null:
// the open match again, and the live view.
export function matchPick(page, match) {
  const { app, els } = page;
  app.match = match;
  if (match) app.matchView.open(match);
  else app.matchView.close();
  els.replayMatch.disabled = !match;
  els.replayMatch.title = match ? `Replay ${match.name || match.id} from its start` : "Pick a match first";
  const radio = els.ranges.find((input) => input.value === "match");
  if (match && !app.replayState) radio.checked = true;
  if (radio.checked) rangeChange(page, "match");
}

// The match list was read. With no open match (the last one ended, none after it), the live
// view's header shows the newest match as it finished, rather than nothing.
export function matchesListed(page, matches) {
  const live = page.app.live;
  if (live.match || !matches.length || matches[0].status === "live") return;
  live.match = matchCopy(matches[0]);
  live.dirty.match = true;
  page.renderSchedule();
}

// The whole log, or one match's events (from its first seq, up to its last or, live, to now).
export function replayStart(page, match = null) {
  const { app, els } = page;
  replayStop(app);
  const afterSeq = match ? match.first_seq - 1 : 0;
  const untilSeq = match?.last_seq ?? app.live.lastSeq;
  if (!app.live.game || untilSeq <= afterSeq) {
    els.replayStatus.textContent = match ? "nothing to replay in this match" : "nothing to replay yet";
    return;
  }
  const state = stateCreate("replay");
  state.game = { ...app.live.game, events: 0, points: 0, last_seq: 0 };
  state.playerCount = 0;
  state.stats = app.live.stats;
  state.match = match ? { ...matchCopy(match), teams: [] } : null;
  app.replayState = state;
  badgeRender(els.badge, "replay");
  replayControls(page, true);
  app.replay = new Replay({
    apiBase: app.config.apiBase,
    untilSeq,
    afterSeq,
    matchId: match?.id ?? null,
    speed: Number(els.replaySpeed.value),
    onEvents: (events) => {
      replayEventsApply(state, events);
      state.nowMs = events[events.length - 1].at_ms;
      page.renderSchedule();
    },
    onProgress: ({ seq }) => {
      const what = match ? `${nameShort(match.name || match.id, 40)} ` : "";
      els.replayStatus.textContent = `replaying ${what}${els.replaySpeed.value}× · seq ${formatInt(seq)} of ${formatInt(untilSeq)}`;
    },
    onDone: () => {
      els.replayStatus.textContent = `replay finished at seq ${formatInt(untilSeq)}`;
      // The match header says what the match is again ("finished"), no longer "replay".
      state.replayDone = true;
      state.dirty.match = true;
      page.renderSchedule();
    },
    onError: (error) => {
      els.replayStatus.textContent = `replay stopped: ${error.message}`;
    },
  });
  app.replay.start();
  page.renderSchedule();
}

function replayStop(app) {
  app.replay?.stop();
  app.replay = null;
  app.replayState = null;
}

// Back to live: the live state kept following the stream during the replay; a snapshot from
// the API makes sure the totals shown are exactly the server's.
export async function backToLive(page) {
  const { app, els } = page;
  replayStop(app);
  replayControls(page, false);
  badgeRender(els.badge, app.follow.status);
  // Live means the open match too: a match picked before is put down.
  if (app.match) {
    els.matchPicker.value = "";
    matchPick(page, null);
  }
  els.replayStatus.textContent = "";
  try {
    const response = await fetch(`${app.config.apiBase}snapshot`, { headers: { Accept: "application/json" } });
    const snap = await response.json();
    if (response.ok && snap.seq >= app.live.lastSeq) {
      snapshotApply(app.live, snap, Date.now());
      page.snapshotSeen();
    }
  } catch (error) {
    console.warn("snapshot after replay failed; the live stream continues", error);
  }
  stateMarkAll(app.live);
  page.renderSchedule();
}

function replayControls(page, replaying) {
  const { app, els } = page;
  page.root.classList.toggle("is-replay", replaying);
  els.backLive.hidden = !replaying;
  for (const input of els.ranges) input.disabled = replaying;
  els.matchPicker.disabled = replaying || els.matchPicker.options.length < 2;
  if (replaying && app.range !== "live") {
    els.ranges.find((input) => input.value === "live").checked = true;
    rangeChange(page, "live");
  }
  if (!replaying) els.replayStart.focus();
  else els.backLive.focus();
}
