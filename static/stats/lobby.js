// The lobby: every visible game with live totals and events/s, over /ws/lobby/.
// Game names come from users: they are only ever set with textContent.

import { formatInt, formatRate } from "./lib/format.js";
import { LiveSocket, socketUrl } from "./lib/socket.js";

const RATE_WINDOW_MS = 5000;
const root = document.getElementById("lobby");
const list = document.getElementById("game-list");
const empty = document.getElementById("lobby-empty");
const badge = document.getElementById("conn-badge");
const BADGE_TEXT = {
  connecting: "connecting…",
  live: "live",
  degraded: "degraded — updating every few seconds",
  reconnecting: "reconnecting…",
  offline: "offline, retrying",
};

// slug -> {game, samples: [[ms, events]]}: recent event counts give each game's rate.
const games = new Map();
// degraded: the server pushes nothing live to this socket for now (Redis is not answering);
// each ping brings the list from the database, until a `status` frame with `live: true`.
window.webgame = { games, frames: 0, degraded: false };

function field(card, name) {
  return card.querySelector(`[data-field="${name}"]`);
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

function cardFind(slug) {
  return Array.from(list.children).find((li) => li.dataset.slug === slug) || null;
}

function stat(label, name) {
  const wrap = document.createElement("div");
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  dt.textContent = label;
  dd.dataset.field = name;
  wrap.append(dt, dd);
  return wrap;
}

function cardCreate(game) {
  const li = document.createElement("li");
  li.className = "card game-card";
  li.dataset.slug = game.slug;
  const h2 = document.createElement("h2");
  const link = document.createElement("a");
  link.className = "game-link";
  link.dataset.field = "name";
  link.href = `${root.dataset.dashboardPrefix}${encodeURIComponent(game.slug)}/`;
  h2.append(link);
  if (!game.is_public) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = "private";
    h2.append(tag);
  }
  const stats = document.createElement("dl");
  stats.className = "game-stats";
  stats.append(stat("Points", "points"), stat("Events", "events"), stat("Events/s", "rate"));
  li.append(h2, stats);
  return li;
}

function gameRate(entry, now) {
  const samples = entry.samples.filter(([ms]) => now - ms <= RATE_WINDOW_MS);
  entry.samples = samples;
  if (samples.length === 0) return 0;
  const [firstMs, firstEvents] = samples[0];
  const span = Math.max(1000, now - firstMs);
  return (entry.game.events - firstEvents) / (span / 1000);
}

function gameUpdate(game) {
  const now = Date.now();
  const entry = games.get(game.slug) || { game, samples: [] };
  entry.samples.push([now, entry.game.events]);
  entry.game = game;
  games.set(game.slug, entry);
  let card = cardFind(game.slug);
  if (!card) {
    card = cardCreate(game);
    list.append(card);
  }
  const events = field(card, "events");
  if (events.textContent !== formatInt(game.events)) flash(events);
  setText(field(card, "name"), game.name);
  setText(field(card, "points"), formatInt(game.points));
  setText(events, formatInt(game.events));
  setText(field(card, "rate"), formatRate(gameRate(entry, now)));
  empty.hidden = games.size > 0;
}

function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("flash");
}

function gamesReplace(all) {
  const slugs = new Set(all.map((g) => g.slug));
  for (const li of Array.from(list.children)) if (!slugs.has(li.dataset.slug)) li.remove();
  for (const slug of games.keys()) if (!slugs.has(slug)) games.delete(slug);
  for (const game of all) gameUpdate(game);
}

function ratesTick() {
  const now = Date.now();
  for (const [slug, entry] of games) {
    const card = cardFind(slug);
    if (card) setText(field(card, "rate"), formatRate(gameRate(entry, now)));
  }
}

function frameHandle(frame) {
  window.webgame.frames += 1;
  if (frame.type === "games") gamesReplace(frame.games);
  else if (frame.type === "game") gameUpdate(frame.game);
  else if (frame.type === "status") {
    window.webgame.degraded = frame.live === false;
    statusChange(socket.status);
  }
}

// socket.js's status, or "degraded" while live but degraded (told per socket: a new one starts live).
function statusChange(status) {
  const shown = status === "live" && window.webgame.degraded ? "degraded" : status;
  badge.className = `badge badge--${shown}`;
  badge.textContent = BADGE_TEXT[shown] || shown;
}

const socket = new LiveSocket({
  url: socketUrl(root.dataset.wsPath),
  onFrame: frameHandle,
  onStatus: statusChange,
  onOpen: () => {
    window.webgame.degraded = false;
  },
});
window.webgame.socket = socket;
socket.start();
setInterval(ratesTick, 1000);
