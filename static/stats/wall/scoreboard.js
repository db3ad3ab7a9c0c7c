// The scoreboard of the wall pages. Two parts, each drawn only when it has something:
// - the match line: the open match's name and its team score, "Blue 22,500 – 23,050 Red"
//   (every team named; more than two teams read as a short list);
// - the top 3 players, big (all-time totals: the README and docs/tv-1920x1080.png promise it).
// The game's all-time totals (points, events) stay in their own labelled row, and are never set
// next to the match score without the match's name (the overlay used to mix them).
// scoreboardModel decides what shows; add a case there (a match clock, rounds, ...).

import { leadersTop } from "../dashboard/state.js";
import { formatInt } from "../lib/format.js";
import { nameSet, setText, span } from "./views.js";

const TOP_PLAYERS = 3;

function teamName(team) {
  if (typeof team === "string") return team;
  return String(team?.name ?? team?.slug ?? team ?? "?");
}

// {points, events, match: {name, status} | null, teams: [{name, score}], players: [{name, score}]}
export function scoreboardModel(state, extras) {
  const teams = Array.isArray(extras?.teams) ? extras.teams : [];
  const match = extras?.match ?? null;
  return {
    points: state.game?.points ?? null,
    events: state.game?.events ?? null,
    match: match ? { name: match.name || `Match ${match.id}`, status: match.status || "" } : null,
    teams: teams.map((t) => ({ name: teamName(t.team), score: t.stats?.points ?? 0 })),
    players: leadersTop(state, TOP_PLAYERS).map((p) => ({ name: p.player, score: p.total })),
  };
}

function rowsFit(list, count, create) {
  if (list.querySelector("li.empty")) list.replaceChildren();
  while (list.children.length < count) list.append(create());
  while (list.children.length > count) list.lastElementChild.remove();
}

function playerCreate() {
  const li = document.createElement("li");
  li.className = "sb-side sb-side--players";
  li.append(span("sb-rank"), span("sb-name"), span("sb-score"));
  return li;
}

function teamCreate() {
  const li = document.createElement("li");
  li.className = "sb-team";
  li.append(span("sb-team-name"), span("sb-team-score"));
  return li;
}

function playersRender(list, players) {
  if (players.length === 0) {
    if (list.firstElementChild?.classList.contains("empty")) return;
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Waiting for the first score…";
    return list.replaceChildren(li);
  }
  rowsFit(list, players.length, playerCreate);
  players.forEach((side, i) => {
    const li = list.children[i];
    setText(li.querySelector(".sb-rank"), String(i + 1));
    nameSet(li.querySelector(".sb-name"), side.name);
    setText(li.querySelector(".sb-score"), formatInt(side.score));
  });
}

// Two teams read as one line, "A 12 – 9 B": the second is mirrored by the CSS (.sb-duel).
function matchRender(box, model) {
  box.hidden = !model.match && model.teams.length === 0;
  if (box.hidden) return;
  const title = box.querySelector(".sb-match-name");
  nameSet(title, model.match ? model.match.name : "Teams");
  box.dataset.status = model.match?.status ?? "";
  const list = box.querySelector(".sb-teams");
  list.classList.toggle("sb-duel", model.teams.length === 2);
  rowsFit(list, model.teams.length, teamCreate);
  model.teams.forEach((team, i) => {
    const li = list.children[i];
    nameSet(li.querySelector(".sb-team-name"), team.name);
    setText(li.querySelector(".sb-team-score"), formatInt(team.score));
  });
}

function partsCreate(main) {
  const box = document.createElement("div");
  box.className = "sb-match";
  box.hidden = true;
  const teams = document.createElement("ol");
  teams.className = "sb-teams";
  box.append(span("sb-match-name"), teams);
  const players = document.createElement("ol");
  players.className = "sb-sides sb-sides--players";
  main.replaceChildren(box, players);
}

export function scoreboardRender(root, state, extras) {
  const model = scoreboardModel(state, extras);
  // With a match on show, the game's totals say they are all-time (the overlay hides them).
  root.dataset.match = model.match ? "on" : "off";
  for (const dt of root.querySelectorAll(".sb-total dt[data-label]")) {
    const label = dt.dataset.label === "points" ? "Points" : "Events";
    setText(dt, model.match ? `All-time ${label.toLowerCase()}` : label);
  }
  setText(root.querySelector('[data-field="points"]'), formatInt(model.points));
  setText(root.querySelector('[data-field="events"]'), formatInt(model.events));
  const main = root.querySelector('[data-field="main"]');
  if (!main.querySelector(".sb-match")) partsCreate(main);
  matchRender(main.querySelector(".sb-match"), model);
  playersRender(main.querySelector(".sb-sides"), model.players);
}
