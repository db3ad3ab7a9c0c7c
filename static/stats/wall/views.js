// Drawing for the wall pages (TV, overlays): leaderboard rows, the ticker of latest events, the
// connection indicator. Names come from game servers: only ever set with textContent, and
// whole in `title` (the page cuts long ones with an ellipsis). Rows are reused, and a node is
// written only when its text changes.

import { playerColor } from "../dashboard/charts.js";
import { leadersTop } from "../dashboard/state.js";
import { formatInt, formatSigned } from "../lib/format.js";

const STATUS_TEXT = {
  idle: "connecting…",
  connecting: "connecting…",
  live: "live",
  degraded: "degraded: updating every few seconds",
  reconnecting: "connection lost, reconnecting…",
  offline: "offline, retrying",
  paused: "paused",
  gone: "game not found",
};

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function nameSet(node, name) {
  setText(node, name);
  if (node.title !== name) node.title = name;
}

export function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function emptyShow(list, text) {
  if (list.firstElementChild?.classList.contains("empty") && list.children.length === 1) return;
  const li = document.createElement("li");
  li.className = "empty";
  li.textContent = text;
  list.replaceChildren(li);
}

function rowsFit(list, count, create) {
  if (list.querySelector("li.empty")) list.replaceChildren();
  while (list.children.length < count) list.append(create());
  while (list.children.length > count) list.lastElementChild.remove();
}

export function limitOf(list, fallback) {
  const limit = Number(list.dataset.limit);
  return Number.isInteger(limit) && limit > 0 ? limit : fallback;
}

function leaderRowCreate() {
  const li = document.createElement("li");
  li.className = "lb-row";
  const swatch = span("lb-swatch");
  swatch.setAttribute("aria-hidden", "true");
  li.append(span("lb-rank"), swatch, span("lb-name"), span("lb-total"));
  return li;
}

export function leaderboardRender(list, state) {
  const leaders = leadersTop(state, limitOf(list, 10));
  if (leaders.length === 0) return emptyShow(list, "Waiting for the first score…");
  rowsFit(list, leaders.length, leaderRowCreate);
  leaders.forEach((p, i) => {
    const row = list.children[i];
    const [rank, swatch, name, total] = row.children;
    setText(rank, String(i + 1));
    if (row.dataset.player !== p.player) {
      row.dataset.player = p.player;
      swatch.style.backgroundColor = playerColor(p.player);
      nameSet(name, p.player);
    }
    setText(total, formatInt(p.total));
  });
}

function tickerItemCreate() {
  const li = document.createElement("li");
  li.className = "tk-item";
  li.append(span("tk-who"), span("tk-pts"), span("tk-kind"));
  return li;
}

// Newest first. An event not shown before gets the `tk-new` class (a short highlight).
export function tickerRender(list, state) {
  const recent = state.recent;
  if (recent.length === 0) {
    list.dataset.seqMax = "0";
    return emptyShow(list, "Waiting for the first event…");
  }
  // Nothing is new on the first drawing: only events after it are highlighted.
  const shownMax = "seqMax" in list.dataset ? Number(list.dataset.seqMax) : Infinity;
  const count = Math.min(recent.length, limitOf(list, 8));
  rowsFit(list, count, tickerItemCreate);
  for (let i = 0; i < count; i += 1) {
    const e = recent[recent.length - 1 - i];
    const item = list.children[i];
    if (item.dataset.seq === String(e.seq)) continue;
    const [who, pts, kind] = item.children;
    item.dataset.seq = String(e.seq);
    nameSet(who, e.player);
    setText(pts, formatSigned(e.points));
    pts.className = `tk-pts ${e.points < 0 ? "neg" : "pos"}`;
    // The usual kind goes without saying; others (bonus, correction, ...) are named.
    setText(kind, e.kind === "score" ? "" : e.kind);
    kind.hidden = e.kind === "score";
    item.classList.remove("tk-new");
    if (e.seq > shownMax) {
      void item.offsetWidth; // restart the highlight on a reused item
      item.classList.add("tk-new");
    }
  }
  list.dataset.seqMax = String(recent[recent.length - 1].seq);
}

export function statusRender(el, status) {
  const text = STATUS_TEXT[status] || status;
  el.dataset.status = status;
  el.title = text;
  setText(el.querySelector(".wall-status-text"), text);
}

export function playersText(state) {
  if (state.playerCount === null || state.playerCount === undefined) return "";
  return `${formatInt(state.playerCount)} ${state.playerCount === 1 ? "player" : "players"}`;
}
