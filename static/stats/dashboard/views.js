// DOM rendering. Every string that comes from data goes through textContent (never
// innerHTML), and rows are reused so a busy stream does not churn the DOM. Player names are
// cut by nameShort, as in the charts, with the full name in the title.

import { formatAgo, formatClock, formatDuration, formatInt, formatRate, formatSigned, nameShort } from "../lib/format.js";
import { playerColor } from "./charts.js";
import { POINTS, statFormat } from "./stats.js";

const BADGE_TEXT = {
  idle: "connecting…",
  connecting: "connecting…",
  live: "live",
  degraded: "degraded — updating every few seconds",
  reconnecting: "reconnecting…",
  offline: "offline, retrying",
  paused: "paused (tab hidden)",
  gone: "game not found",
  replay: "replay",
};

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setClass(node, name) {
  if (node.className !== name) node.className = name;
}

function cell(row, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  row.append(td);
  return td;
}

function leaderRowCreate() {
  const row = document.createElement("tr");
  cell(row, "num");
  const player = cell(row, "player");
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.setAttribute("aria-hidden", "true");
  player.append(swatch, document.createElement("span"));
  cell(row, "team");
  cell(row, "num");
  cell(row, "num");
  return row;
}

function emptyRow(tbody, columns, text) {
  tbody.replaceChildren();
  const row = document.createElement("tr");
  row.className = "empty";
  const td = cell(row);
  td.colSpan = columns;
  td.textContent = text;
  tbody.append(row);
}

const COLUMNS = 5;

// rows: [{player, team, value, rank, events}] by the picked stat (points by default). The team
// column shows only while a player shown has a team (a points-only game has none).
export function tableRender(tbody, leaders, stat = POINTS) {
  tbody.parentElement.classList.toggle("no-teams", !leaders.some((p) => p.team));
  if (leaders.length === 0) return emptyRow(tbody, COLUMNS, stat.name === "points" ? "No scores yet" : `No ${stat.label} yet`);
  if (tbody.querySelector("tr.empty")) tbody.replaceChildren();
  while (tbody.rows.length < leaders.length) tbody.append(leaderRowCreate());
  while (tbody.rows.length > leaders.length) tbody.deleteRow(-1);
  leaders.forEach((p, i) => {
    const row = tbody.rows[i];
    row.classList.toggle("top", i < 3);
    setText(row.cells[0], String(p.rank));
    if (row.dataset.player !== p.player) {
      // A different player in this row: swap the name-bound parts only then.
      row.dataset.player = p.player;
      row.cells[1].firstChild.style.backgroundColor = playerColor(p.player);
      row.cells[1].lastChild.textContent = nameShort(p.player);
      row.cells[1].title = p.player;
    }
    setText(row.cells[2], p.team || "–");
    row.cells[2].title = p.team || "";
    setText(row.cells[3], statFormat(stat, p.value));
    setText(row.cells[4], formatInt(p.events));
  });
}

function recentItemCreate() {
  const li = document.createElement("li");
  for (const name of ["time", "who", "pts", "kind"]) {
    const span = document.createElement("span");
    span.className = name;
    li.append(span);
  }
  return li;
}

export function recentRender(list, recent) {
  if (recent.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Waiting for the first event…";
    return list.replaceChildren(li);
  }
  if (list.querySelector("li.empty")) list.replaceChildren();
  while (list.children.length < recent.length) list.append(recentItemCreate());
  while (list.children.length > recent.length) list.lastChild.remove();
  for (let i = 0; i < recent.length; i += 1) {
    const e = recent[recent.length - 1 - i];
    const item = list.children[i];
    if (item.dataset.seq === String(e.seq)) continue;
    const [time, who, pts, kind] = item.children;
    item.dataset.seq = String(e.seq);
    setText(time, formatClock(e.at_ms));
    setText(who, nameShort(e.player));
    who.title = `${e.player} · seq ${e.seq} · id ${e.id}`;
    setText(pts, formatSigned(e.points));
    setClass(pts, `pts ${e.points < 0 ? "neg" : "pos"}`);
    setText(kind, e.kind);
    setClass(kind, `kind kind-${e.kind}`);
  }
}

// The names that say which stat the leaderboard and the timeline show.
export function statHeadersRender(els, stat) {
  const label = stat.label;
  setText(els.valueHead, label);
  setText(els.caption, `Leaderboard: top 20 players by ${label}`);
  els.barsCanvas.setAttribute("aria-label", `Bar chart of the top ten players by ${label}. The table below holds the same data.`);
  setText(els.timelineTitle, stat.name === "points" ? "Score timeline" : `${label} timeline`);
  setText(els.timelineNote, stat.name === "points" ? "running total of the top 5" : `${label} of the top 5 over time`);
}

export function kpisRender(els, state, ratePerSecond) {
  if (!state.game) return;
  setText(els.points, formatInt(state.game.points));
  setText(els.events, formatInt(state.game.events));
  setText(els.players, formatInt(state.playerCount));
  setText(els.seq, formatInt(state.lastSeq));
  setText(els.rate, formatRate(ratePerSecond));
  if (els.playersNote) setText(els.playersNote, state.playerCount ? `${formatInt(state.playerCount)} players` : "");
}

export function badgeRender(el, status) {
  el.className = `badge badge--${status}`;
  setText(el, BADGE_TEXT[status] || status);
}

export function viewersRender(el, viewers) {
  setText(el, viewers === null ? "– watching" : `${formatInt(viewers)} watching`);
}

export function freshnessRender(el, state, nowMs) {
  if (!state.lastDataAt) return setText(el, "waiting for data");
  let text = `updated ${formatAgo(nowMs - state.lastDataAt)} ago`;
  if (state.lagMs !== null) text += ` · lag ${formatDuration(state.lagMs)}`;
  setText(el, text);
}
