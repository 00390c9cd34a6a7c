// Netra Apex chat page: connection, threads, conversation, live runs, usage upload.
//
// Security: every string from the server or the user goes into the DOM through
// textContent (or markdown.js, which does the same); tokens live in
// sessionStorage and are never written to the page or the console.

import { Connection } from "./connection.js";
import { renderMarkdown } from "./markdown.js";
import {
  MAX_TEXT_CHARS,
  TERMINAL_STATUSES,
  frames,
  isRunEvent,
  isTerminal,
  newClientMessageId,
} from "./protocol.js";
import { RunCard } from "./runview.js";

const KEYS = {
  userToken: "apex.user_token",
  sessionToken: "apex.session_token",
  thread: "apex.thread_id",
  activeRun: "apex.active_run", // {run_id, thread_id, last_seq}
};
const GAP_WAIT_MS = 3000;
const MAX_ALERTS = 5;

const $ = (id) => document.getElementById(id);

const store = {
  get(key) {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      if (value === null || value === undefined) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch {
      /* storage disabled: the page still works, without surviving a reload */
    }
  },
  getJSON(key) {
    try {
      return JSON.parse(this.get(key) ?? "null");
    } catch {
      return null;
    }
  },
};

const state = {
  identity: null, // {userId, demo}
  threads: [],
  threadId: store.get(KEYS.thread),
  threadLoaded: false,
  runs: new Map(), // run_id -> RunCard shown in the open thread
  threadPages: null, // {messages, runs} gathered from get_thread pages so far
  pending: null, // {frame, bubble} — a message sent but not yet accepted
  gapTimers: new Map(),
  early: [], // run events that overtook their message_accepted (the edge follows a run at once)
  ingestUrl: null,
  refusedUserToken: false,
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ------------------------------------------------------------------ status, alerts

function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // a new text node each time so that screen readers read repeated messages
  requestAnimationFrame(() => {
    announcer.textContent = text;
  });
}

function setConnection(kind, text) {
  $("connection-status").dataset.state = kind;
  $("connection-text").textContent = text;
  updateComposer();
}

/** Show an error in the alert list; it stays until dismissed (never swallowed). */
function showAlert(title, detail, { action } = {}) {
  const alerts = $("alerts");
  const item = el("div", "alert");
  const body = el("div", "alert-body");
  body.append(el("strong", "", title));
  if (detail) body.append(el("p", "", detail));
  item.append(body);
  if (action) {
    const button = el("button", "button", action.label);
    button.type = "button";
    button.addEventListener("click", () => {
      item.remove();
      action.run();
    });
    item.append(button);
  }
  const dismiss = el("button", "button button--quiet", "Dismiss");
  dismiss.type = "button";
  dismiss.setAttribute("aria-label", `Dismiss: ${title}`);
  dismiss.addEventListener("click", () => item.remove());
  item.append(dismiss);
  alerts.append(item);
  while (alerts.children.length > MAX_ALERTS) alerts.firstElementChild.remove();
  return item;
}

// ------------------------------------------------------------------ connection

function credentials() {
  const user = store.get(KEYS.userToken);
  if (user && !state.refusedUserToken) return { token: user, kind: "user" };
  const demo = store.get(KEYS.sessionToken);
  if (demo) return { token: demo, kind: "demo" };
  return { token: null, kind: null };
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

const connection = new Connection({
  url: wsUrl(),
  credentials,
  onReady: connected,
  onFrame: receive,
  onStatus: connectionStatus,
});

function connectionStatus(status) {
  switch (status.state) {
    case "connecting":
      setConnection("connecting", "Connecting…");
      break;
    case "reconnecting":
      if (status.delayMs !== undefined) {
        const seconds = Math.max(1, Math.round(status.delayMs / 1000));
        setConnection("reconnecting", `Reconnecting in ${seconds} s (attempt ${status.attempt})…`);
      } else {
        setConnection("reconnecting", "Reconnecting…");
      }
      break;
    case "dropped":
      setConnection("reconnecting", "Connection lost; reconnecting…");
      if (status.code !== 1000 && status.code !== 1001 && status.code !== 1006) {
        showAlert("The connection was closed", `The server ${status.message}.`);
      }
      break;
    case "refused":
      if (status.kind === "demo") {
        // The demo session cannot be restored (expired, or the server's key changed).
        store.set(KEYS.sessionToken, null);
        resetThreadView();
        showAlert("Your demo session expired", "A new demo session was started; earlier demo threads are not available.");
        connection.reconnectNow();
      } else {
        state.refusedUserToken = true;
        connection.stop();
        $("demo-banner").hidden = true;
        setConnection("refused", "Not connected: sign-in refused");
        showAlert(
          "The server refused your access token",
          "It may be invalid or expired. Paste a new token under Sign in, or continue as a demo user.",
          { action: { label: "Continue as demo", run: () => signOut() } },
        );
      }
      break;
    case "failed":
      setConnection("offline", "Not connected");
      showAlert("Cannot connect", status.message);
      break;
    case "warning":
      showAlert("Unexpected data from the server", status.message);
      break;
    default:
      break;
  }
}

function connected(ready) {
  const userId = String(ready.user_id ?? "");
  const demo = ready.demo === true;
  if (state.identity && state.identity.userId !== userId) resetThreadView(); // a different user
  state.identity = { userId, demo };
  if (demo && typeof ready.session_token === "string") store.set(KEYS.sessionToken, ready.session_token);
  $("demo-banner").hidden = !demo;
  $("signout").hidden = demo;
  $("signin-toggle").textContent = demo ? "Sign in" : "Account";
  setConnection("connected", demo ? "Connected · demo session" : `Connected as ${userId}`);
  connection.send(frames.listThreads());
  if (state.pending) connection.send(state.pending.frame); // same client_message_id: same run
  if (state.threadId && !state.threadLoaded) {
    connection.send(frames.getThread(state.threadId));
  } else {
    for (const card of state.runs.values()) {
      if (!card.finished) connection.send(frames.resume(card.runId, card.lastSeq));
    }
  }
}

// ------------------------------------------------------------------ frames

function receive(frame) {
  if (isRunEvent(frame)) {
    runEvent(frame);
    return;
  }
  switch (frame.type) {
    case "message_accepted":
      messageAccepted(frame);
      break;
    case "threads":
      renderThreadList(Array.isArray(frame.threads) ? frame.threads : []);
      break;
    case "thread":
      threadPage(frame);
      break;
    case "error":
      serverError(frame);
      break;
    case "cancel_requested": {
      const card = state.runs.get(frame.run_id);
      if (card && !card.finished) card.setStatus("running", "Cancelling…");
      break;
    }
    case "pong":
      break;
    default:
      break; // a newer server's frame: nothing to show
  }
}

function serverError(frame) {
  const code = String(frame.code ?? "error");
  const message = String(frame.message ?? "The server reported an error.");
  const request = frame.request_type;
  const pending = state.pending;
  if (pending && (request === "user_message" || (!request && !frame.run_id)) &&
      (!frame.client_message_id || frame.client_message_id === pending.frame.client_message_id)) {
    state.pending = null;
    state.early = [];
    pending.bubble.dataset.state = "failed";
    pending.bubble.querySelector(".message-meta").textContent = `Not sent — ${code}: ${message}`;
    const input = $("message");
    if (!input.value) input.value = pending.frame.text;
    updateComposer();
  }
  if (request === "get_thread" && frame.thread_id === state.threadId && !state.threadLoaded) {
    // the stored thread is gone (or belongs to another identity)
    store.set(KEYS.thread, null);
    store.set(KEYS.activeRun, null);
    state.threadId = null;
    resetThreadView();
  }
  if (request === "resume" && frame.run_id) {
    const card = state.runs.get(frame.run_id);
    if (card && !card.finished) card.setStatus("failed", `Cannot follow this run: ${code}`);
    const active = store.getJSON(KEYS.activeRun);
    if (active && active.run_id === frame.run_id && !frame.retryable) store.set(KEYS.activeRun, null);
  }
  const detail = frame.retryable ? `${message} (you can try again)` : message;
  showAlert(`Server error: ${code}`, detail);
}

function messageAccepted(frame) {
  const pending = state.pending;
  if (!pending || frame.client_message_id !== pending.frame.client_message_id) return;
  state.pending = null;
  pending.bubble.dataset.state = "sent";
  pending.bubble.querySelector(".message-meta").textContent = "";
  state.threadId = String(frame.thread_id);
  state.threadLoaded = true;
  store.set(KEYS.thread, state.threadId);
  markActiveThread();
  const card = addRunCard(String(frame.run_id));
  pending.bubble.after(card.element);
  rememberActiveRun(card);
  // The edge follows the run from the moment it accepted the message; events
  // that overtook this answer were kept aside.
  const early = state.early.filter((e) => e.run_id === card.runId);
  state.early = [];
  for (const event of early) runEvent(event);
  connection.send(frames.listThreads());
  updateComposer();
}

function runEvent(event) {
  const card = state.runs.get(event.run_id);
  if (!card) {
    // Perhaps the run of the message we are sending, ahead of its message_accepted;
    // otherwise a run of another thread, resumed when that thread is opened.
    if (state.pending && state.early.length < 1000) state.early.push(event);
    return;
  }
  for (const ordered of card.sequencer.push(event)) {
    card.apply(ordered);
    if (isTerminal(ordered)) runFinished(card);
  }
  if (!card.finished) rememberActiveRun(card);
  watchForGap(card);
}

function watchForGap(card) {
  clearTimeout(state.gapTimers.get(card.runId));
  if (!card.sequencer.hasGap || card.finished) return;
  state.gapTimers.set(
    card.runId,
    setTimeout(() => connection.send(frames.resume(card.runId, card.lastSeq)), GAP_WAIT_MS),
  );
}

function runFinished(card) {
  const active = store.getJSON(KEYS.activeRun);
  if (active && active.run_id === card.runId) store.set(KEYS.activeRun, null);
  connection.send(frames.listThreads());
  updateComposer();
}

function rememberActiveRun(card) {
  store.set(
    KEYS.activeRun,
    JSON.stringify({ run_id: card.runId, thread_id: state.threadId, last_seq: card.lastSeq }),
  );
}

// ------------------------------------------------------------------ threads

function renderThreadList(threads) {
  state.threads = threads.filter((t) => t && typeof t.thread_id === "string");
  const list = $("thread-list");
  list.replaceChildren();
  for (const thread of state.threads) {
    const li = el("li");
    const button = el("button", "thread-link");
    button.type = "button";
    button.dataset.threadId = thread.thread_id;
    button.append(el("span", "thread-link-title", String(thread.title || "Untitled analysis")));
    const when = formatTime(thread.updated_at);
    if (when) button.append(el("span", "thread-link-time", when));
    button.addEventListener("click", () => openThread(thread.thread_id));
    li.append(button);
    list.append(li);
  }
  $("thread-empty").hidden = state.threads.length > 0;
  markActiveThread();
}

function formatTime(value) {
  if (typeof value !== "string") return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function markActiveThread() {
  for (const button of document.querySelectorAll(".thread-link")) {
    if (button.dataset.threadId === state.threadId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  const current = state.threads.find((t) => t.thread_id === state.threadId);
  $("thread-title").textContent = current ? String(current.title || "Untitled analysis") : state.threadId ? "Analysis" : "New analysis";
  $("welcome").hidden = Boolean(state.threadId) || state.pending !== null;
}

function resetThreadView() {
  for (const timer of state.gapTimers.values()) clearTimeout(timer);
  state.gapTimers.clear();
  state.runs.clear();
  state.threadLoaded = false;
  state.pending = null;
  $("conversation").replaceChildren();
  markActiveThread();
  updateComposer();
}

function openThread(threadId) {
  if (threadId === state.threadId && state.threadLoaded) {
    $("message").focus();
    return;
  }
  state.threadId = threadId;
  store.set(KEYS.thread, threadId);
  resetThreadView();
  $("conversation").append(el("p", "muted loading", "Loading the conversation…"));
  if (!connection.send(frames.getThread(threadId))) {
    showAlert("Not connected", "The thread opens when the connection is back.");
  }
}

function newThread() {
  state.threadId = null;
  store.set(KEYS.thread, null);
  resetThreadView();
  $("message").focus();
}

// get_thread answers one page of messages at a time (oldest first) with the runs
// they belong to; the pages are gathered here and the thread drawn once complete.
function threadPage(page) {
  if (page.thread_id !== state.threadId) return; // the user opened another one meanwhile
  const first = !page.cursor;
  const gathered = first || !state.threadPages ? { messages: [], runs: new Map() } : state.threadPages;
  for (const message of Array.isArray(page.messages) ? page.messages : []) gathered.messages.push(message);
  for (const run of Array.isArray(page.runs) ? page.runs : []) {
    if (run && typeof run.run_id === "string") gathered.runs.set(run.run_id, run);
  }
  if (typeof page.next_cursor === "string" && page.next_cursor) {
    state.threadPages = gathered;
    connection.send(frames.getThread(page.thread_id, page.next_cursor));
    return;
  }
  state.threadPages = null;
  renderThread({ ...page, messages: gathered.messages, runs: [...gathered.runs.values()] });
}

function renderThread(thread) {
  if (thread.thread_id !== state.threadId) return; // the user opened another one meanwhile
  resetThreadView();
  if (typeof thread.title === "string" && !state.threads.some((t) => t.thread_id === thread.thread_id)) {
    state.threads.push({ thread_id: thread.thread_id, title: thread.title });
  }
  state.threadLoaded = true;
  const conversation = $("conversation");
  const messages = Array.isArray(thread.messages) ? thread.messages : [];
  const runs = Array.isArray(thread.runs) ? thread.runs.filter((r) => r && typeof r.run_id === "string") : [];
  const active = store.getJSON(KEYS.activeRun);
  // The run to show live: the stored active run, else the thread's last unfinished run,
  // else its last run (so a reload shows how the latest report came about).
  const lastRun = runs[runs.length - 1];
  const liveRunId =
    (active && active.thread_id === thread.thread_id && active.run_id) ||
    (lastRun && !TERMINAL_STATUSES.has(String(lastRun.status)) ? lastRun.run_id : null) ||
    (lastRun ? lastRun.run_id : null);

  for (const message of messages) {
    if (!message || typeof message !== "object") continue;
    if (message.role === "assistant") {
      if (message.run_id === liveRunId) continue; // the live card shows this report
      conversation.append(assistantMessage(String(message.text ?? "")));
    } else {
      conversation.append(userMessage(String(message.text ?? ""), "sent"));
      if (message.run_id && message.run_id === liveRunId) conversation.append(addRunCard(liveRunId).element);
    }
  }
  for (const run of runs) {
    if (run.run_id === liveRunId || !["failed", "cancelled", "timed_out"].includes(run.status)) continue;
    const note = el("p", "run-note", `This analysis ${run.status === "cancelled" ? "was cancelled" : "did not finish"}.`);
    conversation.append(note);
  }
  if (liveRunId) {
    if (!state.runs.has(liveRunId)) conversation.append(addRunCard(liveRunId).element);
    const card = state.runs.get(liveRunId);
    connection.send(frames.resume(liveRunId, 0)); // rebuild the view; events de-duplicated by seq
    rememberActiveRun(card);
  }
  markActiveThread();
  updateComposer();
}

function addRunCard(runId) {
  let card = state.runs.get(runId);
  if (!card) {
    card = new RunCard(runId, {
      announce,
      onCancel: (id) => {
        if (!connection.send(frames.cancel(id))) showAlert("Not connected", "The run could not be cancelled: reconnecting.");
      },
    });
    state.runs.set(runId, card);
  }
  return card;
}

function userMessage(text, status) {
  const bubble = el("div", "message message--user");
  bubble.dataset.state = status;
  bubble.append(el("p", "message-author", "You"));
  const body = el("p", "message-text", text);
  bubble.append(body);
  bubble.append(el("p", "message-meta", status === "sending" ? "Sending…" : ""));
  return bubble;
}

function assistantMessage(markdown) {
  const article = el("article", "message message--assistant report");
  article.append(el("p", "message-author", "Netra Apex"));
  article.append(renderMarkdown(markdown));
  return article;
}

// ------------------------------------------------------------------ composer

function runInProgress() {
  for (const card of state.runs.values()) if (!card.finished) return true;
  return false;
}

function updateComposer() {
  const input = $("message");
  const length = input.value.length;
  const tooLong = length > MAX_TEXT_CHARS;
  const count = $("char-count");
  count.textContent = `${length.toLocaleString("en-US")} / ${MAX_TEXT_CHARS.toLocaleString("en-US")}`;
  count.classList.toggle("over", tooLong);
  const error = $("composer-error");
  if (tooLong) {
    error.textContent = `Your message is ${length.toLocaleString("en-US")} characters; the limit is ${MAX_TEXT_CHARS.toLocaleString("en-US")}. Shorten it to send.`;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
  } else if (error.dataset.kind === "length" || !error.dataset.kind) {
    error.hidden = true;
    input.removeAttribute("aria-invalid");
  }
  error.dataset.kind = tooLong ? "length" : error.dataset.kind === "length" ? "" : error.dataset.kind;
  const send = $("send");
  const blocked = tooLong || state.pending !== null || runInProgress();
  send.setAttribute("aria-disabled", String(blocked || !connection.isOpen));
}

function composerError(text) {
  const error = $("composer-error");
  error.textContent = text;
  error.dataset.kind = "other";
  error.hidden = false;
}

function submitMessage(text) {
  const trimmed = text.trim();
  const error = $("composer-error");
  if (error.dataset.kind === "other") {
    error.hidden = true;
    error.dataset.kind = "";
  }
  if (!trimmed) return;
  if (text.length > MAX_TEXT_CHARS) {
    updateComposer();
    $("message").focus();
    return;
  }
  if (state.pending || runInProgress()) {
    composerError("Wait for the current analysis to finish (or cancel it) before sending another message.");
    return;
  }
  const frame = frames.userMessage(text, state.threadId, newClientMessageId());
  if (!connection.isOpen) {
    composerError("Not connected, so the message was not sent. It is still in the box; send it again once the status says Connected.");
    return;
  }
  const bubble = userMessage(text, "sending");
  $("conversation").append(bubble);
  state.pending = { frame, bubble };
  connection.send(frame);
  $("message").value = "";
  markActiveThread();
  updateComposer();
  bubble.scrollIntoView({ block: "nearest" });
}

// ------------------------------------------------------------------ sign in

function signIn(token) {
  store.set(KEYS.userToken, token);
  state.refusedUserToken = false;
  resetThreadView();
  store.set(KEYS.thread, null);
  store.set(KEYS.activeRun, null);
  state.threadId = null;
  connection.reconnectNow();
}

function signOut() {
  store.set(KEYS.userToken, null);
  state.refusedUserToken = false;
  state.threadId = null;
  store.set(KEYS.thread, null);
  store.set(KEYS.activeRun, null);
  resetThreadView();
  connection.reconnectNow();
}

function toggleSignIn(open) {
  const panel = $("signin-panel");
  const toggle = $("signin-toggle");
  panel.hidden = !open;
  toggle.setAttribute("aria-expanded", String(open));
  if (open) $("signin-token").focus();
}

// ------------------------------------------------------------------ upload

async function loadConfig() {
  try {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const config = await response.json();
    if (typeof config.ingest_url === "string" && config.ingest_url) state.ingestUrl = config.ingest_url;
    else throw new Error("it has no ingest_url");
  } catch (err) {
    showUploadError(`Uploads are unavailable: the page could not read /config.json (${err.message}).`);
  }
}

function showUploadError(text, summary) {
  const result = $("upload-result");
  const box = el("div", "upload-error");
  box.setAttribute("role", "alert");
  box.append(el("strong", "", "Upload failed"), el("p", "", text));
  if (summary && typeof summary === "object" && summary.rows) appendRejections(box, summary);
  result.replaceChildren(box);
}

const count = (value) => (Number.isFinite(Number(value)) ? Number(value) : 0).toLocaleString("en-US");

/** The ingest function's answer (docs/USAGE_FORMATS.md, "Uploading usage"). */
function showUploadSummary(summary, fileName) {
  const result = $("upload-result");
  const rows = summary.rows && typeof summary.rows === "object" ? summary.rows : {};
  const box = el("div", "upload-summary");
  const title = summary.duplicate
    ? `${fileName} was already uploaded: nothing is counted twice`
    : `Imported ${fileName}`;
  box.append(el("strong", "", title));
  const stats = el("dl", "upload-stats");
  const add = (label, value) => stats.append(el("dt", "", label), el("dd", "", value));
  add("Imported", `${count(rows.imported)} rows`);
  if (Number(rows.empty_buckets) > 0) add("Empty buckets", `${count(rows.empty_buckets)} (periods with no usage)`);
  add("Rejected", `${count(rows.rejected)} rows`);
  if (summary.requests !== undefined) add("Requests", count(summary.requests));
  if (summary.first_day) add("Period", summary.last_day && summary.last_day !== summary.first_day ? `${summary.first_day} – ${summary.last_day}` : String(summary.first_day));
  if (Array.isArray(summary.models) && summary.models.length) add("Models", summary.models.length.toLocaleString("en-US"));
  if (summary.format) add("Format", String(summary.format));
  box.append(stats);
  appendRejections(box, summary);
  for (const note of Array.isArray(summary.notes) ? summary.notes.slice(0, 5) : []) {
    box.append(el("p", "small", String(note)));
  }
  if (!summary.duplicate) box.append(el("p", "small", "Ask for an analysis to include it."));
  result.replaceChildren(box);
  announce(`Imported ${count(rows.imported)} rows, rejected ${count(rows.rejected)}`);
}

/** Why rows were rejected: counts per reason, then the first rejected lines. */
function appendRejections(box, summary) {
  const rows = summary.rows && typeof summary.rows === "object" ? summary.rows : {};
  const reasons = rows.reasons && typeof rows.reasons === "object" ? Object.entries(rows.reasons) : [];
  if (reasons.length) {
    box.append(el("p", "small", "Why rows were rejected:"));
    const list = el("ul", "reasons");
    for (const [reason, times] of reasons.slice(0, 10)) list.append(el("li", "", `${reason}: ${count(times)}`));
    box.append(list);
  }
  const examples = Array.isArray(summary.rejections) ? summary.rejections.slice(0, 5) : [];
  if (examples.length) {
    box.append(el("p", "small", examples.length === 1 ? "The rejected line:" : "The first rejected lines:"));
    const list = el("ul", "reasons rejections");
    list.setAttribute("aria-label", "Rejected lines");
    for (const item of examples) {
      if (!item || typeof item !== "object") continue;
      const where = item.line !== undefined && item.line !== null ? `line ${item.line}` : String(item.where ?? "");
      const detail = item.detail ? ` — ${item.detail}` : "";
      list.append(el("li", "", `${where}: ${item.reason ?? "rejected"}${detail}`.slice(0, 300)));
    }
    box.append(list);
  }
}

/** "HTTP 501 Not Implemented — not_implemented: usage upload is not available yet" */
function uploadFailure(response, body, text) {
  let detail = "";
  if (body && typeof body === "object") {
    const error = body.error && typeof body.error === "object" ? body.error : body;
    const code = typeof error.code === "string" ? error.code : "";
    const message = error.message ?? error.detail ?? (typeof body.error === "string" ? body.error : "");
    detail = [code, message ? String(message) : ""].filter(Boolean).join(": ");
  } else if (text && !/^\s*</.test(text)) {
    detail = text.trim(); // plain text; an HTML error page says nothing useful
  }
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  let hint = "";
  if (response.status === 501 && !detail) hint = " Usage upload is not available on this server yet.";
  if (response.status === 401) hint = " The upload was not authorised: reconnect or sign in again.";
  return `${status}${detail ? ` — ${detail.slice(0, 500)}` : ""}.${hint}`;
}

async function upload(event) {
  event.preventDefault();
  const input = $("usage-file");
  const file = input.files && input.files[0];
  if (!file) {
    showUploadError("Choose a usage file first.");
    input.focus();
    return;
  }
  if (!state.ingestUrl) await loadConfig();
  if (!state.ingestUrl) return;
  const { token } = credentials();
  if (!token) {
    showUploadError("Not signed in yet: wait until the status says Connected, then upload again.");
    return;
  }
  const button = $("upload-button");
  button.disabled = true;
  button.textContent = "Uploading…";
  $("upload-result").replaceChildren(el("p", "muted small", `Uploading ${file.name}…`));
  try {
    // The file's bytes as the body; its name as a query parameter (no extra header, so
    // a cross-origin ingest URL needs to allow only Authorization and Content-Type).
    const target = new URL(state.ingestUrl, location.href);
    target.searchParams.set("filename", file.name);
    const mapping = $("usage-model").value.trim();
    if (mapping) target.searchParams.set("model", mapping);
    const response = await fetch(target, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": file.type || "application/octet-stream",
      },
      body: file,
    });
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (!response.ok) {
      showUploadError(uploadFailure(response, body, text), body);
      return;
    }
    if (!body || typeof body !== "object") {
      showUploadError("The server answered, but not with the JSON import summary.");
      return;
    }
    showUploadSummary(body, file.name);
  } catch (err) {
    showUploadError(
      `Could not reach the upload service at ${state.ingestUrl} (${err.message}): it is down, ` +
        "or it does not accept uploads from this page (CORS).",
    );
  } finally {
    button.disabled = false;
    button.textContent = "Upload";
  }
}

// ------------------------------------------------------------------ wiring

function wire() {
  const input = $("message");
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    submitMessage(input.value);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitMessage(input.value);
    }
  });
  input.addEventListener("input", updateComposer);
  for (const chip of document.querySelectorAll("[data-suggestion]")) {
    chip.addEventListener("click", () => {
      input.value = chip.dataset.suggestion;
      submitMessage(input.value);
    });
  }
  $("new-thread").addEventListener("click", newThread);
  $("signin-toggle").addEventListener("click", () => toggleSignIn($("signin-panel").hidden));
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("signin-token");
    const token = field.value.trim();
    field.value = "";
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
      showAlert("That does not look like a JWT", "A JWT has three base64url parts separated by dots.");
      return;
    }
    toggleSignIn(false);
    signIn(token);
  });
  $("signout").addEventListener("click", () => {
    toggleSignIn(false);
    signOut();
  });
  $("upload-form").addEventListener("submit", upload);
  // Threads and upload: always shown beside the conversation on wide screens,
  // folded above it on narrow ones (same order on screen as for the keyboard).
  const narrow = window.matchMedia("(max-width: 820px)");
  const fold = () => {
    $("sidebar-more").open = !narrow.matches;
  };
  narrow.addEventListener("change", fold);
  fold();
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("signin-panel").hidden) {
      toggleSignIn(false);
      $("signin-toggle").focus();
    }
  });
  window.addEventListener("error", (event) => {
    showAlert("Something went wrong in the page", String(event.message ?? "unknown error"));
  });
  window.addEventListener("unhandledrejection", (event) => {
    showAlert("Something went wrong in the page", String(event.reason?.message ?? event.reason ?? "unknown error"));
  });
}

wire();
updateComposer();
markActiveThread();
loadConfig();
connection.start();
