// The match header: "Red 12 – 9 Blue" (the teams' points in the match shown), its name and
// whether it is live or finished, and a line with the picked stat per team when that is not
// points. Hidden without a match. Team and match names come from game servers: textContent
// only, cut by nameShort with the whole name in the title.

import { formatInt, nameShort } from "../lib/format.js";
import { ratio, statDerived, statFormat } from "./stats.js";

const TEAM_NAME_MAX = 24;
const MATCH_NAME_MAX = 40;

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function span(className, text) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  return node;
}

function teamName(team) {
  const node = span("sb-team", nameShort(team.team, TEAM_NAME_MAX));
  node.title = team.team;
  return node;
}

// A team's value of a stat in the match (a ratio from its two parts).
export function teamValue(team, stat) {
  const stats = team.stats || {};
  if (statDerived(stat)) {
    if (stats[stat.numerator] === undefined && stats[stat.denominator] === undefined) return undefined;
    return ratio(stats[stat.numerator] ?? 0, stats[stat.denominator] ?? 0);
  }
  return stats[stat.name];
}

// Two teams: "A 12 – 9 B", one line; otherwise "A 12 · B 9 · C 3".
function scoreLine(node, teams) {
  const points = teams.map((t) => formatInt(t.stats?.points ?? 0));
  if (teams.length === 0) return node.replaceChildren(span("sb-none", "no score yet"));
  if (teams.length === 2) {
    return node.replaceChildren(
      teamName(teams[0]), " ", span("sb-points", points[0]), " – ", span("sb-points", points[1]), " ", teamName(teams[1]));
  }
  const parts = [];
  teams.forEach((team, i) => {
    if (i > 0) parts.push(" · ");
    parts.push(teamName(team), " ", span("sb-points", points[i]));
  });
  node.replaceChildren(...parts);
}

function statLine(node, teams, stat) {
  const shown = stat.name !== "points" && teams.length > 0;
  node.hidden = !shown;
  if (!shown) return;
  const parts = teams.map((t) => `${nameShort(t.team, TEAM_NAME_MAX)} ${statFormat(stat, teamValue(t, stat))}`);
  setText(node, `${stat.label}: ${parts.join(" · ")}`);
}

// els: {root, score, name, status, stat}. replaying: the match is being replayed.
export function scoreboardRender(els, match, stat, replaying) {
  els.root.hidden = !match;
  if (!match) return;
  const key = JSON.stringify(match.teams.map((t) => [t.team, t.stats?.points ?? 0]));
  if (els.score.dataset.key !== key) {
    els.score.dataset.key = key;
    scoreLine(els.score, match.teams);
  }
  const name = match.name || match.id;
  setText(els.name, nameShort(name, MATCH_NAME_MAX));
  els.name.title = name;
  const status = replaying ? "replay" : match.status;
  setText(els.status, status);
  els.status.className = `sb-status sb-status--${status === "live" ? "live" : status === "replay" ? "replay" : "finished"}`;
  statLine(els.stat, match.teams, stat);
}
