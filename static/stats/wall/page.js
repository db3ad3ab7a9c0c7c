// A wall page (TV or overlay) following its game: the parts found in the page
// ([data-part="scoreboard" | "leaderboard" | "ticker" | "status"]) are drawn from the live
// state of lib/follow.js, at most once per animation frame however many frames arrive.

import { GameFollow } from "../lib/follow.js";
import { scoreboardRender } from "./scoreboard.js";
import { leaderboardRender, playersText, setText, statusRender, tickerRender } from "./views.js";

const PARTS = { scoreboard: scoreboardRender, leaderboard: leaderboardRender, ticker: tickerRender };

export function wallStart(root) {
  const parts = [];
  for (const el of root.querySelectorAll("[data-part]")) {
    if (PARTS[el.dataset.part]) parts.push([el, PARTS[el.dataset.part]]);
  }
  const statusEls = Array.from(root.querySelectorAll('[data-part="status"]'));
  const nameEls = Array.from(root.querySelectorAll('[data-field="name"]'));
  const playersEls = Array.from(root.querySelectorAll('[data-field="players"]'));
  const stats = { redraws: 0 };
  let rafId = 0;

  function draw() {
    rafId = 0;
    const state = follow.state;
    for (const [el, render] of parts) render(el, state, follow.extras);
    if (state.game) {
      for (const el of nameEls) {
        setText(el, state.game.name);
        el.title = state.game.name;
      }
    }
    for (const el of playersEls) setText(el, playersText(state));
    stats.redraws += 1;
  }

  function drawSchedule() {
    if (!rafId) rafId = requestAnimationFrame(draw);
  }

  const follow = new GameFollow({
    wsPath: root.dataset.wsPath,
    stats,
    onChange: (frame) => frame.type !== "presence" && drawSchedule(),
    onStatus: (status) => {
      for (const el of statusEls) statusRender(el, status);
      root.dataset.status = status;
    },
  });
  // For the browser tests: the same names as the dashboard's window.webgame.
  window.webgame = {
    follow,
    socket: follow.socket,
    stats,
    get live() {
      return follow.state;
    },
    get state() {
      return follow.state;
    },
  };
  follow.start();
  return follow;
}
