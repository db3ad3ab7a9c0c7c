"""static/stats/lib/socket.js under Node with a fake clock and a fake WebSocket: when the
LiveSocket declares a connection dead, and what it does while the browser is offline. Exact
and fast (virtual time), unlike the browser tests, which check the same against real servers."""

import shutil
import subprocess

import pytest

from stats.tests.support import ROOT

SOCKET_JS = ROOT / "static" / "stats" / "lib" / "socket.js"

# Globals a browser would give the module, with timers on a virtual clock that advance() moves.
HARNESS = r"""
import assert from "node:assert/strict";

let now = 0;
let nextId = 1;
const timers = new Map();
Date.now = () => now;
globalThis.setTimeout = (fn, ms = 0) => (timers.set(nextId, { at: now + ms, fn, every: 0 }), nextId++);
globalThis.setInterval = (fn, ms) => (timers.set(nextId, { at: now + ms, fn, every: ms }), nextId++);
globalThis.clearTimeout = globalThis.clearInterval = (id) => timers.delete(id);
function advance(ms) {
  const end = now + ms;
  for (;;) {
    let due = null;
    for (const [id, t] of timers) if (t.at <= end && (!due || t.at < due[1].at)) due = [id, t];
    if (!due) break;
    const [id, t] = due;
    now = t.at;
    if (t.every) t.at += t.every;
    else timers.delete(id);
    t.fn();
  }
  now = end;
}

const listeners = {};
globalThis.window = {
  location: { protocol: "http:", host: "test" },
  addEventListener: (type, fn) => (listeners[type] ||= []).push(fn),
};
const fire = (type) => (listeners[type] || []).forEach((fn) => fn());
Object.defineProperty(globalThis, "navigator", { value: { onLine: true }, configurable: true, writable: true });

const sockets = [];
class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    sockets.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code) {
    // What a browser throws for a code a script may not use.
    if (code !== 1000 && (code < 3000 || code > 4999)) throw new Error(`InvalidAccessError: ${code}`);
    this.closedWith = code;
    this.readyState = 3;
  }
  serverOpen() {
    this.readyState = 1;
    this.onopen();
  }
  serverFrame(frame) {
    this.onmessage({ data: JSON.stringify(frame) });
  }
}
globalThis.WebSocket = FakeWebSocket;

const { LiveSocket } = await import(process.argv[2]);
const statuses = [];
const socket = new LiveSocket({ url: "ws://test/ws/", onFrame: () => {}, onStatus: (s) => statuses.push(s) });
const last = () => sockets.at(-1);
function connectLive() {
  socket.start();
  last().serverOpen();
  last().serverFrame({ type: "snapshot", seq: 0 });
  assert.equal(socket.status, "live");
}
const pings = (ws) => ws.sent.filter((f) => f.type === "ping").length;

const scenarios = {
  // Answered pings (or any other frame after them) keep the socket for as long as it lasts.
  alive() {
    connectLive();
    for (let i = 0; i < 12; i += 1) {
      advance(3500); // 3.5 s after the previous ping (the first time: before any ping)
      last().serverFrame(i % 2 ? { type: "pong", seq: 0 } : { type: "presence", viewers: 2 });
      advance(1500); // the next ping
    }
    assert.equal(sockets.length, 1);
    assert.equal(pings(sockets[0]), 12);
    assert.equal(socket.status, "live");
  },
  // Nothing after a ping: dead at ping + 4 s (at most 9 s after the last frame), then a retry.
  silent() {
    connectLive();
    advance(5000);
    assert.equal(pings(sockets[0]), 1);
    advance(3900);
    assert.equal(socket.status, "live");
    advance(200);
    assert.equal(sockets[0].closedWith, 4000);
    assert.equal(socket.status, "reconnecting");
    advance(1000); // the first backoff is at most 500 ms
    assert.equal(sockets.length, 2);
    last().serverOpen();
    last().serverFrame({ type: "snapshot", seq: 0 });
    assert.equal(socket.status, "live");
  },
  // The offline event drops the socket at once; no attempt until the online event.
  offline() {
    connectLive();
    navigator.onLine = false;
    fire("offline");
    assert.equal(socket.status, "offline");
    assert.equal(sockets[0].closedWith, 4000);
    advance(120_000);
    assert.equal(sockets.length, 1);
    assert.equal(socket.status, "offline");
    navigator.onLine = true;
    fire("online");
    assert.equal(sockets.length, 2);
    last().serverOpen();
    last().serverFrame({ type: "snapshot", seq: 0 });
    assert.equal(socket.status, "live");
  },
  // A close that comes while the browser is offline waits for the online event too.
  closedWhileOffline() {
    connectLive();
    navigator.onLine = false;
    sockets[0].onclose({ code: 1006 });
    assert.equal(socket.status, "offline");
    advance(60_000);
    assert.equal(sockets.length, 1);
    navigator.onLine = true;
    fire("online");
    assert.equal(sockets.length, 2);
  },
  // A server that takes the TCP connection but never completes the handshake.
  hungHandshake() {
    socket.start();
    advance(9900);
    assert.equal(sockets[0].closedWith, null);
    advance(200);
    assert.equal(sockets[0].closedWith, 4000);
    advance(1000);
    assert.equal(sockets.length, 2);
  },
  // A socket closed on purpose (hidden tab) is not declared dead, nor reopened by "offline".
  stopped() {
    connectLive();
    socket.stop("paused");
    assert.equal(sockets[0].closedWith, 1000);
    fire("offline");
    advance(60_000);
    assert.equal(socket.status, "paused");
    assert.equal(sockets.length, 1);
  },
};

scenarios[process.argv[3]]();
console.log("ok", JSON.stringify(statuses));
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    if not shutil.which("node"):
        pytest.skip("node is missing; socket.js is still covered by the browser tests")
    path = tmp_path_factory.mktemp("socketjs") / "harness.mjs"
    path.write_text(HARNESS)
    return path


@pytest.mark.parametrize("scenario", ["alive", "silent", "offline", "closedWhileOffline", "hungHandshake", "stopped"])
def test_live_socket(harness, scenario):
    run = subprocess.run(
        ["node", str(harness), SOCKET_JS.as_uri(), scenario], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok")
