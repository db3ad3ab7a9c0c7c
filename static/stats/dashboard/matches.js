// The match picker: the game's recent matches (GET matches?limit=20, newest first), live or
// finished, so that one can be opened: its history in the activity chart ("This match" range)
// and its replay. Its first option is the open match, as "This match" means by default. The
// list is read at start, and again when a match starts or ends (at most every few seconds).

import { nameShort } from "../lib/format.js";

const LIST_LIMIT = 20;
const NAME_MAX = 40;
const RELOAD_GAP_MS = 2000;

export class MatchPicker {
  // onPick(match or null): the user picked a match (null: back to the open one).
  // onLoad(matches): the list was read (newest first).
  constructor({ select, apiBase, onPick, onLoad = () => {} }) {
    Object.assign(this, { select, apiBase, onPick, onLoad });
    this.matches = [];
    this.loadedAt = 0;
    this.timer = 0;
    select.addEventListener("change", () => this.onPick(this.picked));
  }

  // The match picked, as the list read it (null: the open match).
  get picked() {
    return this.matches.find((m) => m.id === this.select.value) || null;
  }

  // Read the list again soon (once for a burst of reasons).
  reloadSoon() {
    if (this.timer) return;
    const wait = Math.max(0, this.loadedAt + RELOAD_GAP_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.load();
    }, wait);
  }

  async load() {
    this.loadedAt = performance.now();
    try {
      const response = await fetch(`${this.apiBase}matches?limit=${LIST_LIMIT}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      this.matches = body.matches || [];
      this.optionsFill();
      this.onLoad(this.matches);
    } catch (error) {
      console.warn("matches not read", error);
    }
  }

  optionsFill() {
    const chosen = this.select.value;
    const open = document.createElement("option");
    open.value = "";
    open.textContent = this.matches.length ? "Open match" : "No matches yet";
    const options = this.matches.map((m) => {
      const option = document.createElement("option");
      option.value = m.id;
      option.textContent = `${nameShort(m.name || m.id, NAME_MAX)} · ${m.status}`;
      return option;
    });
    this.select.replaceChildren(open, ...options);
    this.select.disabled = this.matches.length === 0;
    // The pick stays while its match is listed; a pick that fell off the list is the open match.
    this.select.value = this.matches.some((m) => m.id === chosen) ? chosen : "";
    if (chosen && this.select.value !== chosen) this.onPick(null);
  }
}
