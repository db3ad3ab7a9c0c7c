// The stat picker: which stat the leaderboard (table and bars) and the timeline show. Its
// options are the game's stats (the snapshot's, and GET stats again when a match starts or
// ends, since a game may declare stats then); the choice is kept in the URL (?stat=kills), and
// a stat the game does not have falls back to points.
//
// For a stat other than points, the all-time top list comes from the leaderboard API (when
// picked, and after every snapshot, which replaces the players) into the live state's player
// records; events frames keep it current from there (their players[].stats), and the ranking
// is made here, in the page. A ratio needs both its parts: the API's top lists of the two are
// read too; a player with one part unknown shows the API's ratio until the list is read again.

import { LIMITS } from "./state.js";
import { statDerived, statFind, statFromUrl, statKnown, statUrl } from "./stats.js";

const PARTS_LIMIT = 100; // the API's most
const GUESS_REFETCH_MS = 3000;

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

export class StatPicker {
  // live(): the live state. onChange(): the stat or its data changed (redraw). onTop(state, stat):
  // a stat other than points was picked and its top list read into the state.
  constructor({ select, apiBase, live, onChange, onTop = () => {} }) {
    Object.assign(this, { select, apiBase, live, onChange, onTop });
    this.wanted = statFromUrl(window.location.search);
    this.name = "points";
    this.resolved = false;
    this.token = null;
    this.refetchTimer = 0;
    select.addEventListener("change", () => this.choose(select.value));
  }

  get stat() {
    return statFind(this.live().stats, this.name);
  }

  // After every snapshot: the options, the stat the URL asks for (once), the top list again.
  snapshotSeen() {
    const stats = this.live().stats;
    this.optionsFill(stats);
    if (!this.resolved) {
      this.resolved = true;
      this.name = statKnown(stats, this.wanted) ? this.wanted : "points";
      if (this.name !== this.wanted) this.urlKeep(); // an unknown stat in a link: points, said so in the URL
    } else if (!statKnown(stats, this.name)) {
      this.name = "points";
      this.urlKeep();
    }
    this.select.value = this.name;
    this.topFetch();
    this.onChange();
  }

  choose(name) {
    this.name = statKnown(this.live().stats, name) ? name : "points";
    this.select.value = this.name;
    this.urlKeep();
    this.topFetch();
    this.onChange();
  }

  urlKeep() {
    window.history.replaceState(window.history.state, "", statUrl(window.location.href, this.name));
  }

  optionsFill(stats) {
    const key = JSON.stringify(stats.map((s) => [s.name, s.label]));
    if (this.select.dataset.key === key) return;
    this.select.dataset.key = key;
    this.select.replaceChildren(
      ...stats.map((s) => {
        const option = document.createElement("option");
        option.value = s.name;
        option.textContent = s.label || s.name;
        return option;
      }),
    );
    this.select.value = this.name;
  }

  // A match started or ended: the game may have declared stats since the snapshot.
  async statsReload() {
    try {
      const body = await getJson(`${this.apiBase}stats`);
      if (!Array.isArray(body?.stats) || !body.stats.length) return;
      this.live().stats = body.stats;
      this.optionsFill(body.stats);
    } catch (error) {
      console.warn("stats list not read", error);
    }
  }

  // Rows of the top list stand on a ratio the API sent before one of its parts changed.
  guessesSeen(count) {
    if (count === 0 || this.refetchTimer || this.token) return;
    this.refetchTimer = setTimeout(() => {
      this.refetchTimer = 0;
      this.topFetch();
    }, GUESS_REFETCH_MS);
  }

  async topFetch() {
    const stat = this.stat;
    if (stat.name === "points") {
      this.token = null;
      return;
    }
    const state = this.live();
    const token = {};
    this.token = token;
    state.statTouched = new Set(); // frames that arrive meanwhile are newer than the answer
    const asked = statDerived(stat) ? [stat.name, stat.numerator, stat.denominator] : [stat.name];
    try {
      const bodies = await Promise.all(
        asked.map((name, i) =>
          getJson(`${this.apiBase}leaderboard?stat=${encodeURIComponent(name)}&limit=${i ? PARTS_LIMIT : LIMITS.leaderboard}`),
        ),
      );
      if (this.token !== token || this.live() !== state) return;
      bodies.forEach((body, i) => topMerge(state, asked[i], body.entries, i === 0 && statDerived(stat)));
      Object.assign(state.dirty, { leaders: true, series: true });
      this.onChange();
      this.onTop(state, stat);
    } catch (error) {
      console.warn(`leaderboard of ${stat.name} not read`, error);
    } finally {
      if (this.token === token) {
        this.token = null;
        state.statTouched = null;
      }
    }
  }
}

// The API's entries ({player, value}: all-time values) into the state's player records: a
// plain stat's value, or a ratio the page cannot make (one part unknown) for a derived one.
// Values a frame set meanwhile are newer: kept.
function topMerge(state, name, entries, derived) {
  for (const entry of entries) {
    let p = state.players.get(entry.player);
    if (!p) {
      p = { player: entry.player, total: null, events: null, stats: {}, full: false };
      state.players.set(entry.player, p);
    }
    if (state.statTouched?.has(`${entry.player}\0${name}`)) continue;
    if (derived) {
      p.ratios = { ...p.ratios, [name]: entry.value };
      p.ratiosStale = false;
    }
    else if (name === "points") p.total ??= entry.value;
    else p.stats = { ...p.stats, [name]: entry.value };
  }
}
