// A JSON WebSocket that reconnects by itself: capped exponential backoff with jitter, a ping
// every 20 s (keeps presence fresh) and a watchdog for sockets that die without a close.

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const PING_MS = 20_000;
const SILENCE_MS = 50_000; // two missed pongs: the connection is dead even if no close came
const OFFLINE_AFTER = 4; // failed attempts before the badge says "offline" (it keeps retrying)
const CLOSE_NOT_FOUND = 4404;

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  // "Equal jitter": never less than half the ceiling, so a herd of tabs spreads out.
  return ceiling / 2 + Math.random() * (ceiling / 2);
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
    this.lastMessageAt = 0;
    this.retryAt = 0;
    window.addEventListener("online", () => this.reconnectNow());
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
    if (this.ws) this.drop(4000, "reconnecting");
    this.connect();
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
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.statusSet(this.statusRetrying());
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  statusRetrying() {
    return this.attempt >= OFFLINE_AFTER || navigator.onLine === false ? "offline" : "reconnecting";
  }

  pingTick() {
    if (Date.now() - this.lastMessageAt > SILENCE_MS) {
      this.drop(4000, "silent");
      if (!this.stopped) this.retryLater();
      return;
    }
    this.send({ type: "ping" });
  }

  // Forget the current socket at once: its late events are ignored (see the ws !== this.ws checks).
  drop(code, reason) {
    const ws = this.ws;
    this.detach();
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(code, reason);
  }

  detach() {
    clearInterval(this.pingTimer);
    this.ws = null;
  }

  statusSet(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
