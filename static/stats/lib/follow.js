// Following one game live, for every page that shows it (dashboard, TV, overlays): a
// reconnecting socket (socket.js) and the game's state (dashboard/state.js), kept current by
// the protocol of docs/protocol.md. A snapshot first (after every connect), then `events`
// frames by seq; a gap sends `resume` and ignores frames until the answer, and an answer that
// does not come in time starts over with a fresh connection (and its snapshot). A `status`
// frame with `live: false` means the server pushes nothing live to this socket for now
// (degraded: caught up at each ping), until `live: true` on the same socket.
//
// The page hears of it through callbacks, and does its own drawing:
//   onChange(frame)  the state changed: after a snapshot, an applied events frame, a presence,
//                    a match frame
//   onStatus(status) the connection: socket.js's status, or "degraded" while live but degraded
//   onFrame(frame)   every other frame (chat, chat_deleted, error, pong, ...)

import { eventsFrameApply, snapshotApply, stateCreate } from "../dashboard/state.js";
import { LiveSocket, socketUrl } from "./socket.js";

export const RESUME_TIMEOUT_MS = 5000;

const noop = () => {};

export class GameFollow {
  constructor({ wsPath, onChange = noop, onStatus = noop, onFrame = noop, stats = null }) {
    this.state = stateCreate("live");
    // What state.js does not keep (yet): the open match and its teams, when the server sends them.
    this.extras = { teams: null, match: null };
    this.degraded = false;
    this.awaitingResume = false;
    // Counters for tests and benchmarks; a page may hand its own object to count into.
    this.stats = stats || {};
    for (const name of ["frames", "events", "snapshots", "gaps"]) this.stats[name] ??= 0;
    this.resumeTimer = 0;
    this.onChange = onChange;
    this.onStatus = onStatus;
    this.onFrame = onFrame;
    this.socket = new LiveSocket({
      url: socketUrl(wsPath),
      // Read through the socket (socket.onFrame) so that a test may wrap or call it.
      onFrame: (frame) => this.frameHandle(frame),
      onStatus: () => this.onStatus(this.status),
      onOpen: () => {
        this.awaitingResume = false;
        this.degraded = false;
      },
    });
  }

  // What a connection indicator shows: socket.js's status, or "degraded".
  get status() {
    const status = this.socket.status;
    return status === "live" && this.degraded ? "degraded" : status;
  }

  start() {
    this.socket.start();
  }

  frameHandle(frame) {
    this.stats.frames += 1;
    if (frame.type === "snapshot") this.snapshotHandle(frame);
    else if (frame.type === "events") this.eventsHandle(frame);
    else if (frame.type === "presence") {
      this.state.viewers = frame.viewers;
      this.onChange(frame);
    } else if (frame.type === "status") this.degradedSet(frame.live === false);
    else if (frame.type === "match") this.matchHandle(frame);
    else this.onFrame(frame);
  }

  snapshotHandle(frame) {
    this.stats.snapshots += 1;
    this.awaitingResume = false;
    snapshotApply(this.state, frame, Date.now());
    // Teams: the snapshot's own `teams` when it has some, or else its open match's.
    const teams = Array.isArray(frame.teams) && frame.teams.length > 0 ? frame.teams : frame.match?.teams;
    this.extras = { match: frame.match ?? null, teams: teams ?? null };
    this.onChange(frame);
  }

  // A match started or ended (not in seq order: the next snapshot has it too).
  matchHandle(frame) {
    this.extras = { match: frame.match ?? null, teams: frame.match?.teams ?? null };
    this.onChange(frame);
  }

  eventsHandle(frame) {
    if (frame.resumed) {
      this.awaitingResume = false;
      clearTimeout(this.resumeTimer);
    } else if (this.awaitingResume) {
      return; // the resume answer will cover these
    }
    const outcome = eventsFrameApply(this.state, frame, Date.now());
    if (outcome === "gap") return this.resumeRequest();
    if (outcome !== "applied") return;
    if (Array.isArray(frame.teams)) {
      // Only the shown match's teams: events of another live match carry theirs too.
      const shown = this.extras.match?.id;
      const ours = frame.teams.filter((t) => t.match === undefined || shown === undefined || t.match === shown);
      if (ours.length) this.extras.teams = teamsMerge(this.extras.teams, ours);
    }
    this.stats.events += frame.events.length;
    this.onChange(frame);
  }

  resumeRequest() {
    this.stats.gaps += 1;
    this.awaitingResume = true;
    this.socket.send({ type: "resume", after_seq: this.state.lastSeq });
    clearTimeout(this.resumeTimer);
    // No answer: start over with a fresh connection (and its snapshot).
    this.resumeTimer = setTimeout(() => this.awaitingResume && this.socket.reconnectNow(), RESUME_TIMEOUT_MS);
  }

  // Told per socket, so a new socket starts not degraded (see onOpen).
  degradedSet(degraded) {
    this.degraded = degraded;
    this.onStatus(this.status);
  }
}

// An events frame's `teams` holds the absolute totals of the teams whose stats changed: set
// them (never add) on a copy of what is known, by team.
export function teamsMerge(known, changed) {
  const teams = (Array.isArray(known) ? known : []).map((t) => ({ ...t, stats: { ...t.stats } }));
  for (const update of changed) {
    const team = teams.find((t) => t.team === update.team);
    if (team) Object.assign(team.stats, update.stats);
    else teams.push({ team: update.team, stats: { ...update.stats } });
  }
  return teams;
}
