// One match picked in the match picker, shown as a view of its own: the header, the KPIs, the
// leaderboard and the timeline all read a state built from that match's events alone (GET
// events?match=<id>, page after page, added up as a replay adds them, but at once). A live
// match picked keeps growing from the live stream's events of that match.
//
// Bounded: at most MATCH_EVENTS_MAX events are read (40 pages of 500); a longer match shows
// its first MATCH_EVENTS_MAX events, and says so (`truncated`).

import { replayEventsApply, stateCreate } from "./state.js";
import { matchCopy } from "./teams.js";

const PAGE = 500;
export const MATCH_EVENTS_MAX = 20_000;

async function pageFetch(apiBase, matchId, afterSeq) {
  const url = `${apiBase}events?match=${encodeURIComponent(matchId)}&after_seq=${afterSeq}&limit=${PAGE}`;
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

export class MatchView {
  // live(): the live state (its game, its declared stats). onChange(state | null): a view was
  // built (or dropped); onError(error).
  constructor({ apiBase, live, onChange, onError }) {
    Object.assign(this, { apiBase, live, onChange, onError });
    this.state = null;
    this.token = null;
    this.truncated = false;
  }

  get matchId() {
    return this.state?.match?.id ?? null;
  }

  close() {
    this.token = null;
    if (!this.state) return;
    this.state = null;
    this.onChange(null);
  }

  async open(match) {
    const token = {};
    this.token = token;
    const live = this.live();
    const state = stateCreate("match");
    state.game = { ...live.game, events: 0, points: 0, last_seq: 0 };
    state.playerCount = 0;
    state.stats = live.stats;
    state.match = { ...matchCopy(match), teams: [] };
    let afterSeq = Math.max(0, (match.first_seq ?? 1) - 1);
    let read = 0;
    try {
      for (;;) {
        const page = await pageFetch(this.apiBase, match.id, afterSeq);
        if (this.token !== token) return;
        if (page.events.length) replayEventsApply(state, page.events.slice(0, MATCH_EVENTS_MAX - read));
        read += page.events.length;
        afterSeq = page.next_after_seq;
        if (!page.more) break;
        if (read >= MATCH_EVENTS_MAX) {
          this.truncated = true;
          break;
        }
      }
    } catch (error) {
      if (this.token === token) this.onError(error);
      return;
    }
    state.lastDataAt = Date.now();
    this.state = state;
    this.onChange(state);
  }

  // A live events frame: the picked match's new events, added on.
  eventsSeen(events) {
    const state = this.state;
    if (!state || state.match.status !== "live" || this.truncated) return;
    const ours = events.filter((e) => e.match === state.match.id && e.seq > state.lastSeq);
    if (ours.length) replayEventsApply(state, ours);
  }

  // A match frame about the picked match (it ended): its status and times, teams kept.
  matchSeen(match) {
    const shown = this.state?.match;
    if (!shown || match.id !== shown.id) return;
    Object.assign(shown, { status: match.status, ended_ms: match.ended_ms, last_seq: match.last_seq });
    this.state.dirty.match = true;
  }
}
