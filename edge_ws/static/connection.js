// One WebSocket to the edge that comes back by itself.
//
// The token (a signed-in user's JWT, or the demo session token the server gave
// us) travels as the subprotocol "apex.bearer.<token>" next to "apex.v1":
// browsers cannot set an Authorization header on a WebSocket. After a drop the
// connection waits an exponential, jittered delay and tries again; the app
// resumes its runs from the last seq it saw once connection_ready arrives.
//
// A browser is not told why a handshake failed. When the socket closes before
// connection_ready while a token was offered, we ask /readyz whether the edge
// is up: if it is, the edge refused the token and onStatus gets "refused".

import { BEARER_PREFIX, CLOSE, PROTOCOL, backoffDelay, describeClose, frames } from "./protocol.js";

const KEEPALIVE_MS = 25000;
const POLICY_MIN_ATTEMPT = 3; // after a 1008 wait at least ~4 s before trying again

export class Connection {
  /**
   * @param {object} options
   * @param {string} options.url            ws(s)://…/ws
   * @param {() => {token: string|null, kind: "user"|"demo"|null}} options.credentials
   * @param {(frame: object) => void} options.onFrame   every frame after connection_ready
   * @param {(ready: object) => void} options.onReady  connection_ready
   * @param {(status: object) => void} options.onStatus
   */
  constructor({ url, credentials, onFrame, onReady, onStatus }) {
    this.url = url;
    this.credentials = credentials;
    this.onFrame = onFrame;
    this.onReady = onReady;
    this.onStatus = onStatus;
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.timer = null;
    this.keepalive = null;
    this.stopped = false;
    window.addEventListener("online", () => {
      if (!this.ready && !this.stopped) this.reconnectNow();
    });
  }

  get isOpen() {
    return this.ready && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Close the current socket (if any) and connect again at once, e.g. after signing in. */
  reconnectNow() {
    this.stopped = false;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.dropSocket();
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.dropSocket();
  }

  /** Send a frame; false when not connected (the caller shows that, never drops silently). */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  dropSocket() {
    clearInterval(this.keepalive);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(CLOSE.NORMAL, "client reconnecting");
      } catch {
        /* already closed */
      }
    }
  }

  open() {
    const { token, kind } = this.credentials();
    const protocols = token ? [PROTOCOL, BEARER_PREFIX + token] : [PROTOCOL];
    this.onStatus({ state: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url, protocols);
    } catch (err) {
      this.onStatus({ state: "failed", message: `cannot open a WebSocket to ${this.url}: ${err.message}` });
      return;
    }
    this.ws = ws;
    ws.onmessage = (message) => this.receive(message);
    ws.onclose = (close) => this.closed(ws, close, kind);
  }

  receive(message) {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      this.onStatus({ state: "warning", message: "the server sent a frame that is not JSON" });
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (!this.ready) {
      if (frame.type !== "connection_ready") {
        this.onStatus({ state: "warning", message: `expected connection_ready, got ${String(frame.type)}` });
        return;
      }
      this.ready = true;
      this.attempt = 0;
      clearInterval(this.keepalive);
      this.keepalive = setInterval(() => this.send(frames.ping()), KEEPALIVE_MS);
      this.onReady(frame);
      return;
    }
    this.onFrame(frame);
  }

  async closed(ws, close, kind) {
    if (ws !== this.ws) return; // a socket we already replaced
    const wasReady = this.ready;
    this.ws = null;
    this.ready = false;
    clearInterval(this.keepalive);
    if (this.stopped) return;
    if (!wasReady && kind) {
      // Closed during the handshake with a token offered: refused, or just down?
      if (await this.edgeIsUp()) {
        this.onStatus({ state: "refused", kind });
        return; // the app decides: a fresh demo session, or sign in again
      }
    }
    if (wasReady) {
      this.onStatus({
        state: "dropped",
        code: close.code,
        reason: close.reason,
        message: describeClose(close.code, close.reason),
      });
    }
    if (close.code === CLOSE.POLICY) this.attempt = Math.max(this.attempt, POLICY_MIN_ATTEMPT);
    this.schedule();
  }

  schedule() {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.onStatus({ state: "reconnecting", attempt: this.attempt, delayMs: delay, retryAt: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  async edgeIsUp() {
    try {
      const response = await fetch("/readyz", { cache: "no-store" });
      return response.ok;
    } catch {
      return false;
    }
  }
}
