// The scoreboard of the wall pages: the game's totals, and who leads. What leads is decided by
// one small function, scoreboardModel: the teams when the snapshot carries a non-empty
// `teams` ([{team, stats: {points, ...}}]), shown "TeamA 12 – 9 TeamB"; otherwise the top 3
// players. Add a case there (a match clock, rounds, ...) and a drawing below.

import { leadersTop } from "../dashboard/state.js";
import { formatInt } from "../lib/format.js";
import { nameSet, setText, span } from "./views.js";

const TOP_PLAYERS = 3;

function teamName(team) {
  if (typeof team === "string") return team;
  return String(team?.name ?? team?.slug ?? team ?? "?");
}

// {points, events, kind: "teams" | "players", sides: [{name, score}]}
export function scoreboardModel(state, extras) {
  const model = { points: state.game?.points ?? null, events: state.game?.events ?? null };
  const teams = extras?.teams;
  if (Array.isArray(teams) && teams.length > 0) {
    model.kind = "teams";
    model.sides = teams.map((t) => ({ name: teamName(t.team), score: t.stats?.points ?? 0 }));
  } else {
    model.kind = "players";
    model.sides = leadersTop(state, TOP_PLAYERS).map((p) => ({ name: p.player, score: p.total }));
  }
  return model;
}

function sideCreate(kind) {
  const li = document.createElement("li");
  li.className = `sb-side sb-side--${kind}`;
  if (kind === "players") li.append(span("sb-rank"));
  li.append(span("sb-name"), span("sb-score"));
  return li;
}

// Two teams read as one line, "A 12 – 9 B": the second side is mirrored by the CSS
// (.sb-sides--duel), and the dash is drawn between them.
function sidesRender(list, model) {
  const kind = model.kind;
  if (list.dataset.kind !== kind) {
    list.dataset.kind = kind;
    list.replaceChildren();
  }
  list.className = `sb-sides sb-sides--${kind}${kind === "teams" && model.sides.length === 2 ? " sb-sides--duel" : ""}`;
  if (model.sides.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Waiting for the first score…";
    return list.replaceChildren(li);
  }
  if (list.querySelector("li.empty")) list.replaceChildren();
  while (list.children.length < model.sides.length) list.append(sideCreate(kind));
  while (list.children.length > model.sides.length) list.lastElementChild.remove();
  model.sides.forEach((side, i) => {
    const li = list.children[i];
    if (kind === "players") setText(li.querySelector(".sb-rank"), String(i + 1));
    nameSet(li.querySelector(".sb-name"), side.name);
    setText(li.querySelector(".sb-score"), formatInt(side.score));
  });
}

export function scoreboardRender(root, state, extras) {
  const model = scoreboardModel(state, extras);
  setText(root.querySelector('[data-field="points"]'), formatInt(model.points));
  setText(root.querySelector('[data-field="events"]'), formatInt(model.events));
  const main = root.querySelector('[data-field="main"]');
  let list = main.firstElementChild;
  if (!list) {
    list = document.createElement("ol");
    main.append(list);
  }
  sidesRender(list, model);
}
