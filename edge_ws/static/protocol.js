// The wire protocol apex.v1 as the page uses it (DESIGN.md, "Wire protocol").

export const PROTOCOL = "apex.v1";
export const BEARER_PREFIX = "apex.bearer.";
export const MAX_TEXT_CHARS = 4000;
export const AGENTS = ["supervisor", "triage", "data", "optimization", "reporting"];
export const TERMINAL_STATUSES = new Set(["completed", "failed", "cancelled", "timed_out"]);

export const CLOSE = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
});

const CLOSE_MEANING = {
  1000: "closed normally",
  1001: "the server is restarting or rotating",
  1006: "the connection dropped",
  1008: "refused by policy (expired token or rate limit)",
  1009: "a message was too big",
  1011: "the server hit an internal error",
  1012: "the server is restarting",
  1013: "the server is busy; try again later",
};

/** A sentence for a close code and reason, for the status line and error list. */
export function describeClose(code, reason) {
  const meaning = CLOSE_MEANING[code] ?? "closed";
  return reason ? `${meaning} (${code}: ${reason})` : `${meaning} (${code})`;
}

/** The run's last event: the supervisor's final agent_completed, or its agent_error. */
export function isTerminal(event) {
  if (event.agent !== "supervisor") return false;
  return event.type === "agent_error" || (event.type === "agent_completed" && event.final === true);
}

export function isRunEvent(frame) {
  return typeof frame.run_id === "string" && Number.isInteger(frame.seq) && typeof frame.agent === "string";
}

export function newClientMessageId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export const frames = {
  userMessage: (text, threadId, clientMessageId) => {
    const frame = { type: "user_message", text, client_message_id: clientMessageId };
    if (threadId) frame.thread_id = threadId;
    return frame;
  },
  resume: (runId, afterSeq) => ({ type: "resume", run_id: runId, after_seq: afterSeq }),
  getThread: (threadId, cursor) => {
    const frame = { type: "get_thread", thread_id: threadId };
    if (cursor) frame.cursor = cursor; // the previous page's next_cursor
    return frame;
  },
  listThreads: () => ({ type: "list_threads" }),
  cancel: (runId) => ({ type: "cancel", run_id: runId }),
  ping: () => ({ type: "ping" }),
};

/**
 * Puts one run's events in seq order, each once: push() returns the events that
 * became deliverable — none for a duplicate, none yet for an event after a gap,
 * and the whole consecutive run once the gap fills.
 */
export class RunSequencer {
  constructor(afterSeq = 0) {
    this.lastSeq = afterSeq;
    this.pending = new Map();
  }

  get hasGap() {
    return this.pending.size > 0;
  }

  push(event) {
    const seq = event.seq;
    if (seq <= this.lastSeq || this.pending.has(seq)) return [];
    this.pending.set(seq, event);
    const ready = [];
    while (this.pending.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      ready.push(this.pending.get(this.lastSeq));
      this.pending.delete(this.lastSeq);
    }
    return ready;
  }
}

/** Milliseconds to wait before reconnect attempt `attempt` (0-based): exponential, capped, jittered. */
export function backoffDelay(attempt, { base = 500, cap = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
