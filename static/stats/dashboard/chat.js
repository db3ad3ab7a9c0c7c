// The chat panel of a game's dashboard. Messages come on the game's socket: the last ones
// with each snapshot, then a `chat` frame per new message and `chat_deleted` when staff
// remove one; older pages come from GET <data-api>?before=<id>. Names and text come from
// users: they are only ever set with textContent, never parsed as HTML.
// `data-staff` only decides which buttons show: the server checks every action again.

import { formatClock } from "../lib/format.js";

// Messages kept on the page: a long session on a busy game must not grow the DOM forever
// (the oldest dropped can be loaded again).
const KEEP_MAX = 500;
// The server sends this many with a snapshot: fewer means there is nothing older to load.
const SNAPSHOT_SIZE = 50;
// Closer than this to the bottom counts as reading the newest: new messages scroll into view.
const STICK_PX = 40;
const ERROR_TEXT = {
  login_required: "Your session has ended: log in again to chat.",
  too_long: "That message is too long.",
  muted: "You are muted in this game.",
  chat_rate_limited: "You are sending messages too fast: wait a moment.",
  empty: "Type a message first.",
  forbidden: "Only staff can do that.",
  not_connected: "Not connected: try again in a moment.",
  load_failed: "Older messages could not be loaded: try again.",
};
// Refusals of a message this page sent: its text comes back into the input, to edit or resend.
const SEND_REFUSALS = new Set(["too_long", "muted", "chat_rate_limited", "empty"]);

function node(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function toolButton(action, text, label) {
  const button = node("button", `chat-tool chat-${action}`, text);
  button.type = "button";
  button.dataset.action = action;
  button.setAttribute("aria-label", label);
  button.title = label;
  return button;
}

export class ChatPanel {
  constructor(root, send) {
    this.root = root;
    this.send = send; // (frame) => whether the socket took it
    this.me = root.dataset.user || "";
    this.staff = root.dataset.staff === "1";
    this.api = root.dataset.api;
    this.scroller = root.querySelector(".chat-scroll");
    this.list = root.querySelector(".chat-list");
    this.empty = root.querySelector(".chat-empty");
    this.olderButton = root.querySelector(".chat-older");
    this.form = root.querySelector(".chat-form"); // absent for an anonymous viewer
    this.input = this.form?.querySelector("input");
    this.error = this.form?.querySelector(".chat-error");
    this.items = new Map(); // id -> <li>, in id order in the list
    // Users this page muted. No frame tells who is muted: the labels follow this page's own clicks.
    this.muted = new Set();
    this.pending = null; // the text last sent, until it comes back or is refused
    this.moreOlder = false;
    this.loading = false;
    this.bind();
    this.emptyRender();
  }

  bind() {
    this.olderButton.addEventListener("click", () => this.loadOlder());
    this.list.addEventListener("click", (event) => this.toolClick(event));
    if (!this.form) return;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("input", () => this.errorShow(""));
  }

  // ---- frames from the socket ---------------------------------------------------------

  // Each (re)connection brings the newest messages: start over from them, since messages
  // may have been deleted while this page was not connected.
  snapshot(messages) {
    const stick = this.atBottom();
    this.items.clear();
    this.list.replaceChildren();
    for (const message of messages) this.add(message, { live: false });
    this.moreOlder = messages.length >= SNAPSHOT_SIZE;
    this.olderRender();
    if (stick) this.scrollToBottom();
  }

  // live: a new message (may scroll into view, and trims the oldest); else one of a page of
  // older ones, or of a snapshot.
  add(message, { live = true } = {}) {
    if (this.items.has(message.id)) return;
    const stick = live && this.atBottom();
    const item = this.itemCreate(message);
    this.items.set(message.id, item);
    let after = this.list.lastElementChild;
    while (after && Number(after.dataset.id) > message.id) after = after.previousElementSibling;
    if (after) after.after(item);
    else this.list.prepend(item);
    if (message.user === this.me && message.text === this.pending) this.pending = null;
    if (live) this.oldestDrop();
    this.emptyRender();
    if (stick) this.scrollToBottom();
  }

  remove(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.remove();
    this.items.delete(id);
    this.emptyRender();
  }

  // An error frame about chat: shown next to the input. False for other errors.
  errorFrame(frame) {
    if (!Object.hasOwn(ERROR_TEXT, frame.code)) return false;
    if (SEND_REFUSALS.has(frame.code) && this.pending !== null && this.input && !this.input.value) {
      this.input.value = this.pending;
    }
    if (SEND_REFUSALS.has(frame.code)) this.pending = null;
    this.errorShow(ERROR_TEXT[frame.code]);
    return true;
  }

  // ---- actions ----------------------------------------------------------------------------

  submit() {
    const text = this.input.value;
    if (!text.trim()) return this.errorShow(ERROR_TEXT.empty);
    if (text.length > this.input.maxLength) return this.errorShow(ERROR_TEXT.too_long);
    if (!this.send({ type: "chat", text })) return this.errorShow(ERROR_TEXT.not_connected);
    this.pending = text;
    this.input.value = "";
    this.errorShow("");
  }

  toolClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.staff) return;
    const item = button.closest("li");
    if (button.dataset.action === "delete") {
      // The message goes when the server's chat_deleted comes, on every page alike.
      if (this.send({ type: "chat_delete", id: Number(item.dataset.id) })) button.disabled = true;
      else this.errorShow(ERROR_TEXT.not_connected);
      return;
    }
    const user = item.dataset.user;
    const muted = !this.muted.has(user);
    if (!this.send({ type: "chat_mute", user, muted })) return this.errorShow(ERROR_TEXT.not_connected);
    if (muted) this.muted.add(user);
    else this.muted.delete(user);
    for (const other of this.items.values()) {
      if (other.dataset.user === user) this.muteRender(other.querySelector(".chat-mute"), user);
    }
  }

  async loadOlder() {
    const oldest = this.list.firstElementChild;
    if (this.loading || !oldest) return;
    this.loading = true;
    this.olderButton.disabled = true;
    try {
      const url = `${this.api}?before=${encodeURIComponent(oldest.dataset.id)}`;
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = await response.json();
      // Keep what the reader is looking at in place while rows appear above it.
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      for (const message of page.messages) this.add(message, { live: false });
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
      this.moreOlder = Boolean(page.more);
    } catch (error) {
      console.warn("older chat messages", error);
      this.errorShow(ERROR_TEXT.load_failed);
    } finally {
      this.loading = false;
      this.olderButton.disabled = false;
      this.olderRender();
    }
  }

  // ---- drawing ----------------------------------------------------------------------------

  itemCreate(message) {
    const item = node("li", message.user === this.me ? "chat-msg chat-msg--own" : "chat-msg");
    item.dataset.id = String(message.id);
    item.dataset.user = message.user;
    const meta = node("div", "chat-meta");
    const time = node("time", "chat-time");
    if (Number.isFinite(message.at_ms)) {
      const at = new Date(message.at_ms);
      time.textContent = formatClock(message.at_ms);
      time.dateTime = at.toISOString();
      time.title = at.toLocaleString();
    }
    meta.append(node("span", "chat-user", message.user), time);
    if (this.staff) {
      const tools = node("span", "chat-tools");
      if (message.user !== this.me) {
        const mute = toolButton("mute", "", "");
        this.muteRender(mute, message.user);
        tools.append(mute);
      }
      tools.append(toolButton("delete", "×", `Delete this message by ${message.user}`));
      meta.append(tools);
    }
    item.append(meta, node("p", "chat-text", message.text));
    return item;
  }

  muteRender(button, user) {
    if (!button) return;
    const muted = this.muted.has(user);
    button.textContent = muted ? "Unmute" : "Mute";
    const label = `${muted ? "Unmute" : "Mute"} ${user} in this game`;
    button.setAttribute("aria-label", label);
    button.title = label;
    button.setAttribute("aria-pressed", String(muted));
  }

  // Drop the oldest beyond KEEP_MAX; they stay loadable.
  oldestDrop() {
    while (this.items.size > KEEP_MAX) {
      const oldest = this.list.firstElementChild;
      this.items.delete(Number(oldest.dataset.id));
      oldest.remove();
      this.moreOlder = true;
    }
    this.olderRender();
  }

  olderRender() {
    this.olderButton.hidden = !this.moreOlder || this.items.size === 0;
  }

  emptyRender() {
    this.empty.hidden = this.items.size > 0;
  }

  errorShow(text) {
    if (this.error && this.error.textContent !== text) this.error.textContent = text;
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICK_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
