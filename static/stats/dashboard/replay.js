// Replays the event log at 1x or 10x: pages through GET /api/games/<slug>/events and feeds
// the events to a replay state on their own timeline (long idle gaps are shortened). A match's
// replay reads only its events (events?match=<id>), from its first seq.

const PAGE = 500;
const REFILL_BELOW = 400;
const MAX_GAP_MS = 2000; // quiet stretches longer than this replay as 2 s
const TICK_MS = 50;

async function pageFetch(apiBase, afterSeq, matchId) {
  const match = matchId ? `&match=${encodeURIComponent(matchId)}` : "";
  const response = await fetch(`${apiBase}events?after_seq=${afterSeq}&limit=${PAGE}${match}`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(`events page failed: HTTP ${response.status}`);
  return response.json();
}

export class Replay {
  // untilSeq: the last seq to play (the log as it was when the replay started); afterSeq: the
  // seq it starts after; matchId: only that match's events.
  constructor({ apiBase, untilSeq, afterSeq = 0, matchId = null, speed, onEvents, onProgress, onDone, onError }) {
    Object.assign(this, { apiBase, untilSeq, matchId, speed, onEvents, onProgress, onDone, onError });
    this.buffer = [];
    this.afterSeq = afterSeq;
    this.more = true;
    this.fetching = null;
    this.lastDue = null;
    this.lastAt = null;
    this.clock = null;
    this.timer = 0;
    this.paused = false;
    this.playedSeq = afterSeq;
    this.stopped = false;
  }

  async start() {
    await this.refill();
    if (this.stopped) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.stopped = true;
    this.more = false;
  }

  setPaused(paused) {
    this.paused = paused;
    this.lastTick = performance.now();
  }

  async refill() {
    if (this.fetching || !this.more) return this.fetching;
    this.fetching = pageFetch(this.apiBase, this.afterSeq, this.matchId)
      .then((page) => this.pageAdd(page))
      .catch((error) => {
        this.stop();
        this.onError(error);
      })
      .finally(() => {
        this.fetching = null;
      });
    return this.fetching;
  }

  pageAdd(page) {
    if (this.stopped) return;
    for (const event of page.events) {
      if (event.seq > this.untilSeq) break;
      // Each event gets a due time on a monotonic replay timeline.
      const step = this.lastAt === null ? 0 : Math.min(MAX_GAP_MS, Math.max(0, event.at_ms - this.lastAt));
      this.lastDue = (this.lastDue ?? event.at_ms) + step;
      this.lastAt = event.at_ms;
      this.buffer.push({ event, due: this.lastDue });
    }
    this.afterSeq = page.next_after_seq;
    this.more = !this.stopped && page.more && this.afterSeq < this.untilSeq;
  }

  tick() {
    const now = performance.now();
    const elapsed = this.paused ? 0 : (now - this.lastTick) * this.speed;
    this.lastTick = now;
    if (this.buffer.length === 0) return this.finishIfDone();
    if (this.clock === null) this.clock = this.buffer[0].due;
    this.clock += elapsed;
    let n = 0;
    while (n < this.buffer.length && this.buffer[n].due <= this.clock) n += 1;
    if (n > 0) {
      const batch = this.buffer.splice(0, n).map((item) => item.event);
      this.playedSeq = batch[batch.length - 1].seq;
      this.onEvents(batch, this.clock);
    }
    this.onProgress({ seq: this.playedSeq, untilSeq: this.untilSeq, clock: this.clock });
    if (this.buffer.length < REFILL_BELOW) this.refill();
  }

  finishIfDone() {
    if (this.more || this.fetching) {
      this.refill();
      return;
    }
    this.stop();
    this.onDone();
  }
}
