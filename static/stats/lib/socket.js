// A JSON WebSocket that reconnects by itself: capped exponential backoff with jitter, and quick
// detection of a dead connection. A socket can stay "open" long after the network is gone (no
// close ever comes), so it is declared dead when no frame arrives in time: a ping every 5 s,
// and any frame within 4 s of it (the server answers pings with a pong) proves it alive.
// The browser's own offline event is believed at once.

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const PING_MS = 5_000; // also keeps presence fresh
const PONG_DEADLINE_MS = 4_000; // after a ping, some frame must arrive within this
const OPEN_DEADLINE_MS = 10_000; // a handshake (and first frame) that takes longer is a hung server
const OFFLINE_AFTER = 4; // failed attempts before the badge says "offline" (it keeps retrying)
const CLOSE_NOT_FOUND = 4404;
const CLOSE_DEAD = 4000; // ours, when we give up on a socket (1000 or 3000-4999 are allowed)

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  // "Equal jitter": never less than half the ceiling, so a herd of tabs spreads out.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function browserOffline() {
  return navigator.onLine === false;
}

export class LiveSocket {
  constructor({ url, onFrame, onStatus, onOpen }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onStatus = onStatus || (() => {});
    this.onOpen = onOpen || (() => {});
    this.ws = null;
    this.attempt = 0;
    this.status = "idle";
    this.stopped = true;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.deadlineTimer = 0; // armed while a frame is awaited; any frame disarms it
    this.lastMessageAt = 0;
    this.retryAt = 0;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.offline());
  }

  start() {
    this.stopped = false;
    if (!this.ws) this.connect();
  }

  // Close on purpose (tab hidden, page leaving): no reconnect until start().
  stop(status = "paused") {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop(1000, status);
    this.statusSet(status);
  }

  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    if (this.ws) this.drop(CLOSE_DEAD, "reconnecting");
    this.connect();
  }

  // The browser says the network is gone: its open socket would only go quiet (frames are
  // held, no close comes), so drop it now and wait for the "online" event to reconnect.
  offline() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.drop(CLOSE_DEAD, "offline");
    this.statusSet("offline");
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.statusSet(this.attempt === 0 && this.status !== "reconnecting" ? "connecting" : this.statusRetrying());
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => this.handleOpen(ws);
    ws.onmessage = (event) => this.handleMessage(ws, event);
    ws.onclose = (event) => this.handleClose(ws, event.code);
    // A server that accepts the TCP connection but never answers would leave us "connecting".
    this.deadlineArm(OPEN_DEADLINE_MS);
  }

  handleOpen(ws) {
    if (ws !== this.ws) return;
    this.lastMessageAt = Date.now();
    this.pingTimer = setInterval(() => this.pingTick(), PING_MS);
    this.onOpen();
  }

  handleMessage(ws, event) {
    if (ws !== this.ws) return;
    this.lastMessageAt = Date.now();
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = 0;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return; // the server only sends JSON; a broken frame is ignored, not fatal
    }
    if (this.status !== "live") {
      this.attempt = 0;
      this.statusSet("live");
    }
    this.onFrame(frame);
  }

  handleClose(ws, code) {
    if (ws !== this.ws) return;
    this.detach();
    if (this.stopped) return;
    if (code === CLOSE_NOT_FOUND) {
      this.stopped = true;
      this.statusSet("gone");
      return;
    }
    this.retryLater();
  }

  retryLater() {
    // No attempt can succeed while the browser is offline: its "online" event reconnects.
    if (browserOffline()) return this.statusSet("offline");
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.statusSet(this.statusRetrying());
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  statusRetrying() {
    return this.attempt >= OFFLINE_AFTER || browserOffline() ? "offline" : "reconnecting";
  }

  pingTick() {
    if (this.send({ type: "ping" }) && !this.deadlineTimer) this.deadlineArm(PONG_DEADLINE_MS);
  }

  deadlineArm(ms) {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.dead(), ms);
  }

  // No frame came in time: the connection is gone even though no close arrived.
  dead() {
    this.deadlineTimer = 0;
    if (!this.ws || this.stopped) return;
    this.drop(CLOSE_DEAD, "no answer");
    this.retryLater();
  }

  // Forget the current socket at once: its late events are ignored (see the ws !== this.ws checks).
  drop(code, reason) {
    const ws = this.ws;
    this.detach();
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(code, reason);
  }

  detach() {
    clearInterval(this.pingTimer);
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = 0;
    this.ws = null;
  }

  statusSet(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
