// The dashboard's two other views: history ranges (rollup buckets in the activity chart) and
// replay (the log played again on the same charts). `page` is {app, els, root, renderSchedule}.

import { formatInt } from "../lib/format.js";
import { RANGE_TITLES, historyFetch } from "./history.js";
import { Replay } from "./replay.js";
import { replayEventsApply, snapshotApply, stateCreate, stateMarkAll } from "./state.js";

const HISTORY_REFRESH_MS = 30_000;

export function rangeChange(page, range) {
  const { app, els } = page;
  app.range = range;
  app.history = null;
  clearInterval(app.timers.history);
  const [title, note] = RANGE_TITLES[range];
  els.rateTitle.textContent = title;
  els.rateNote.textContent = note;
  if (range !== "live") {
    historyLoad(page);
    app.timers.history = setInterval(() => historyLoad(page), HISTORY_REFRESH_MS);
  }
  app.state.dirty.rate = true;
  page.renderSchedule();
}

async function historyLoad(page) {
  const { app, els } = page;
  const range = app.range;
  try {
    const history = await historyFetch(app.config.apiBase, range);
    if (app.range !== range) return;
    app.history = history;
    els.rateNote.textContent = `${RANGE_TITLES[range][1]} · through seq ${formatInt(history.rolled_up_seq)}`;
    app.state.dirty.rate = true;
    page.renderSchedule();
  } catch (error) {
    els.rateNote.textContent = `could not load history: ${error.message}`;
  }
}

export function replayStart(page) {
  const { app, els } = page;
  replayStop(app);
  const untilSeq = app.live.lastSeq;
  if (!app.live.game || untilSeq === 0) {
    els.replayStatus.textContent = "nothing to replay yet";
    return;
  }
  const state = stateCreate("replay");
  state.game = { ...app.live.game, events: 0, points: 0, last_seq: 0 };
  state.playerCount = 0;
  app.replayState = state;
  replayControls(page, true);
  app.replay = new Replay({
    apiBase: app.config.apiBase,
    untilSeq,
    speed: Number(els.replaySpeed.value),
    onEvents: (events) => {
      replayEventsApply(state, events);
      state.nowMs = events[events.length - 1].at_ms;
      page.renderSchedule();
    },
    onProgress: ({ seq }) => {
      els.replayStatus.textContent = `replaying ${els.replaySpeed.value}× · seq ${formatInt(seq)} of ${formatInt(untilSeq)}`;
    },
    onDone: () => {
      els.replayStatus.textContent = `replay finished at seq ${formatInt(untilSeq)}`;
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
  els.replayStatus.textContent = "";
  try {
    const response = await fetch(`${app.config.apiBase}snapshot`, { headers: { Accept: "application/json" } });
    const snap = await response.json();
    if (response.ok && snap.seq >= app.live.lastSeq) snapshotApply(app.live, snap, Date.now());
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
  if (replaying && app.range !== "live") {
    els.ranges.find((input) => input.value === "live").checked = true;
    rangeChange(page, "live");
  }
  if (!replaying) els.replayStart.focus();
  else els.backLive.focus();
}
