// The stat lines' history from before the page (or the stat switch): when a stat other than
// points is shown, the lines of the game's stats (state.statSeries, statseries.js) are built
// again from the log's latest events, GET events?after_seq=..., so that a line does not start
// at the moment of the switch (nor at the snapshot's 50 recent events) as a stub.
//
// Bounded: the last HISTORY_EVENTS events of the game (4 pages of 500). A game with no more
// events than that is added up from zero, exactly (as a replay is). A longer one walks each
// value back from the player's record now, so it is drawn for the players whose value of the
// stat the page knows (the top lists read for it): built again when another stat is picked,
// and after a snapshot that started the lines over (a new state.statSeries).

import { LIMITS } from "./state.js";
import { statSeriesAdd } from "./statseries.js";

const PAGE = 500;
export const HISTORY_EVENTS = 2000;
const PAGES_MAX = HISTORY_EVENTS / PAGE + 4; // and a few for the frames that come meanwhile

async function pageFetch(apiBase, afterSeq) {
  const url = `${apiBase}events?after_seq=${afterSeq}&limit=${PAGE}`;
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

export class StatHistory {
  // onChange(): lines were rebuilt (redraw).
  constructor({ apiBase, onChange }) {
    Object.assign(this, { apiBase, onChange });
    this.built = null; // the state.statSeries this made
    this.builtFor = new Set(); // the stat it was made for ("*": all, when made from zero)
    this.loading = null;
  }

  // The events from HISTORY_EVENTS before the state's last seq up to it (reading on while live
  // frames move it), then the lines from them: each player's value walked back from their
  // record now (state.players), as an events frame's are.
  async load(state, stat) {
    const done = state.statSeries === this.built && (this.builtFor.has("*") || this.builtFor.has(stat.name));
    if (done || this.loading === state) return;
    this.loading = state;
    const events = [];
    const fromZero = state.lastSeq <= HISTORY_EVENTS;
    let afterSeq = fromZero ? 0 : state.lastSeq - HISTORY_EVENTS;
    try {
      // Until the state's last seq (live frames move it meanwhile), within PAGES_MAX pages.
      for (let pages = 0; pages < PAGES_MAX && afterSeq < state.lastSeq; pages += 1) {
        const page = await pageFetch(this.apiBase, afterSeq);
        events.push(...page.events);
        if (page.next_after_seq === afterSeq) break; // nothing after it
        afterSeq = page.next_after_seq;
      }
    } catch (error) {
      console.warn("stat history not read", error);
      return;
    } finally {
      this.loading = null;
    }
    const run = events.filter((e) => e.seq <= state.lastSeq);
    if (run.length === 0 || run[run.length - 1].seq !== state.lastSeq) return; // a new game under the slug
    state.statSeries = new Map();
    // From zero: no record needed (finals null); otherwise walked back from the records.
    statSeriesAdd(state, run, fromZero ? null : state.players, () => undefined, LIMITS);
    this.built = state.statSeries;
    this.builtFor = new Set([fromZero ? "*" : stat.name]);
    state.dirty.series = true;
    this.onChange();
  }
}
