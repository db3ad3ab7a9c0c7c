// The match a dashboard shows (state.match: the match wire, {id, name, status, teams, ...}):
// a snapshot's open match; a match frame that starts a new match replaces it, one that ends it
// shows it finished; events frames' `teams` set its teams' totals (absolute match totals: set,
// never add). A replay adds its events up from zero instead. Teams are kept in name order, as
// the server lists them, so that a reload shows them in the same order.

import { statMerge } from "./stats.js";

export function matchCopy(match) {
  if (!match) return null;
  return { ...match, teams: (match.teams || []).map((t) => ({ team: t.team, stats: { ...t.stats } })) };
}

function teamGet(match, name) {
  let team = match.teams.find((t) => t.team === name);
  if (!team) {
    team = { team: name, stats: {} };
    match.teams.push(team);
    match.teams.sort((a, b) => (a.team < b.team ? -1 : a.team > b.team ? 1 : 0));
  }
  return team;
}

// A `match` frame. Returns whether the shown match changed.
export function matchFrameApply(state, match) {
  const shown = state.match;
  // The end (or a repeat) of a match that is not the one shown: not this page's business.
  if (shown && match.id !== shown.id && match.status !== "live") return false;
  const next = matchCopy(match);
  if (shown && match.id === shown.id) {
    // The same match: totals an events frame brought stay unless the frame has them too.
    for (const t of shown.teams) if (!next.teams.some((n) => n.team === t.team)) teamGet(next, t.team).stats = t.stats;
  }
  state.match = next;
  state.dirty.match = true;
  return true;
}

// An events frame's `teams`: [{match, team, stats}], the changed teams' absolute totals.
export function teamsFrameApply(state, teams) {
  const match = state.match;
  if (!match || !Array.isArray(teams)) return;
  for (const update of teams) {
    if (update.match !== match.id) continue;
    Object.assign(teamGet(match, update.team).stats, update.stats);
    state.dirty.match = true;
  }
}

// Replay: the match's teams' totals from zero, each event's points added and its stats merged
// by their operator. `statsByName`: the game's plain stats.
export function matchEventsAdd(state, events, statsByName) {
  const match = state.match;
  if (!match) return;
  for (const e of events) {
    if (!e.team || e.match !== match.id) continue;
    const stats = teamGet(match, e.team).stats;
    stats.points = (stats.points || 0) + e.points;
    if (!e.stats) continue;
    for (const name in e.stats) {
      const stat = statsByName.get(name);
      if (stat) stats[name] = statMerge(stat, stats[name], e.stats[name]);
    }
  }
  state.dirty.match = true;
}
