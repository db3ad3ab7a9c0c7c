// The wall screen of a game (/games/<slug>/tv/): scoreboard, leaderboard and ticker, live,
// with no controls. A screen on a wall should not dim or sleep: a wake lock is asked for
// where the browser offers one (it is released when the page is hidden, so asked again).

import { wallStart } from "./wall/page.js";

async function wakeLockKeep() {
  if (document.hidden || !navigator.wakeLock) return;
  try {
    await navigator.wakeLock.request("screen");
  } catch {
    // Refused (no user gesture, battery saver, ...): the screen's own settings decide.
  }
}

wallStart(document.getElementById("wall"));
wakeLockKeep();
document.addEventListener("visibilitychange", wakeLockKeep);
