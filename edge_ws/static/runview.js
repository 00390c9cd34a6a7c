// The live view of one run: a row per agent (state and latest thinking), each
// tool call with its duration, then the final report or the error.
// Every server string is set with textContent or through renderMarkdown.

import { renderChart } from "./chart.js";
import { renderMarkdown } from "./markdown.js";
import { AGENTS, RunSequencer, isTerminal } from "./protocol.js";

const AGENT_LABEL = {
  supervisor: "Supervisor",
  triage: "Triage",
  data: "Data",
  optimization: "Optimization",
  reporting: "Reporting",
};
const AGENT_ROLE = {
  supervisor: "Plans the analysis",
  triage: "Understands the request",
  data: "Loads and rolls up usage",
  optimization: "Finds savings",
  reporting: "Writes the report",
};
const STATE_LABEL = { waiting: "Waiting", working: "Working", done: "Done", failed: "Failed" };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function formatDuration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function oneLine(text, limit = 280) {
  const line = String(text ?? "").replace(/\s+/g, " ").trim();
  return line.length <= limit ? line : `${line.slice(0, limit - 1)}…`;
}

export class RunCard {
  /**
   * @param {string} runId
   * @param {{announce: (text: string) => void, onCancel: (runId: string) => void}} hooks
   */
  constructor(runId, { announce, onCancel }) {
    this.runId = runId;
    this.announce = announce;
    this.sequencer = new RunSequencer(0);
    this.finished = false;
    this.outcome = null; // "completed" | "failed" | "cancelled"
    this.agents = new Map();
    this.tools = new Map();

    this.element = el("section", "run-card");
    this.element.dataset.runId = runId;
    this.element.dataset.status = "waiting";
    this.element.setAttribute("aria-label", "Analysis progress");

    const header = el("header", "run-header");
    header.append(el("h3", "run-title", "Analysis"));
    this.statusText = el("p", "run-status", "Waiting for the agents to start…");
    this.statusText.setAttribute("role", "status");
    header.append(this.statusText);
    this.cancelButton = el("button", "button button--quiet run-cancel", "Cancel");
    this.cancelButton.type = "button";
    this.cancelButton.addEventListener("click", () => {
      this.cancelButton.disabled = true;
      this.cancelButton.textContent = "Cancelling…";
      onCancel(this.runId);
    });
    header.append(this.cancelButton);
    this.element.append(header);

    this.agentList = el("ol", "agents");
    this.agentList.setAttribute("aria-label", "Agents");
    for (const name of AGENTS) this.agentRow(name);
    this.element.append(this.agentList);

    this.errorBox = el("div", "run-error");
    this.errorBox.hidden = true;
    this.errorBox.setAttribute("role", "alert");
    this.element.append(this.errorBox);

    this.report = el("article", "report");
    this.report.hidden = true;
    this.report.setAttribute("aria-label", "Report");
    this.element.append(this.report);
  }

  get lastSeq() {
    return this.sequencer.lastSeq;
  }

  agentRow(name) {
    let row = this.agents.get(name);
    if (row) return row;
    const li = el("li", "agent");
    li.dataset.agent = name;
    li.dataset.state = "waiting";
    const icon = el("span", "agent-icon");
    icon.setAttribute("aria-hidden", "true");
    const head = el("div", "agent-head");
    const label = el("span", "agent-name", AGENT_LABEL[name] ?? oneLine(name, 40));
    const state = el("span", "agent-state", STATE_LABEL.waiting);
    head.append(label, state);
    const role = el("p", "agent-latest", AGENT_ROLE[name] ?? "");
    const tools = el("ul", "tools");
    tools.setAttribute("aria-label", `${label.textContent} tool calls`);
    const body = el("div", "agent-body");
    body.append(head, role, tools);
    li.append(icon, body);
    this.agentList.append(li);
    row = { li, state, latest: role, tools, label: label.textContent };
    this.agents.set(name, row);
    return row;
  }

  setAgentState(name, stateName) {
    const row = this.agentRow(name);
    if (row.li.dataset.state === stateName) return;
    row.li.dataset.state = stateName;
    row.state.textContent = STATE_LABEL[stateName];
    if (stateName !== "working") this.announce(`${row.label} agent: ${STATE_LABEL[stateName].toLowerCase()}`);
    else if (name !== "supervisor") this.announce(`${row.label} agent started`);
  }

  setStatus(status, text) {
    this.element.dataset.status = status;
    this.statusText.textContent = text;
  }

  /** Apply one event, in seq order (the caller runs it through this.sequencer). */
  apply(event) {
    const name = String(event.agent);
    const row = this.agentRow(name);
    if (!this.finished) this.setStatus("running", "Agents at work…");
    switch (event.type) {
      case "agent_started":
        this.setAgentState(name, "working");
        break;
      case "agent_thinking":
        this.setAgentState(name, "working");
        row.latest.textContent = oneLine(event.text);
        row.latest.classList.add("agent-latest--live");
        break;
      case "tool_executing":
        this.setAgentState(name, "working");
        this.toolStarted(row, event);
        break;
      case "tool_completed":
        this.toolCompleted(row, event);
        break;
      case "agent_completed":
        this.setAgentState(name, "done");
        if (event.summary) row.latest.textContent = oneLine(event.summary);
        row.latest.classList.remove("agent-latest--live");
        if (isTerminal(event)) this.complete(event.response ?? "", event.result?.chart);
        break;
      case "agent_error":
        this.setAgentState(name, "failed");
        row.latest.textContent = oneLine(`${event.code ?? "error"}: ${event.message ?? ""}`);
        row.latest.classList.remove("agent-latest--live");
        if (isTerminal(event)) this.fail(event);
        break;
      default:
        break;
    }
  }

  toolStarted(row, event) {
    const id = String(event.tool_call_id ?? `${event.seq}`);
    const li = el("li", "tool");
    li.dataset.state = "running";
    li.dataset.toolCallId = id;
    const name = el("code", "tool-name", oneLine(event.tool ?? "tool", 80));
    const meta = el("span", "tool-meta", "running…");
    const summary = el("span", "tool-summary");
    li.append(name, meta, summary);
    row.tools.append(li);
    this.tools.set(id, { li, meta, summary });
  }

  toolCompleted(row, event) {
    const id = String(event.tool_call_id ?? "");
    if (!this.tools.has(id)) this.toolStarted(row, event);
    const tool = this.tools.get(id);
    const ok = event.ok !== false;
    tool.li.dataset.state = ok ? "ok" : "failed";
    const duration = formatDuration(event.duration_ms);
    tool.meta.textContent = ok ? duration || "done" : `failed${duration ? ` · ${duration}` : ""}`;
    tool.summary.textContent = oneLine(event.summary ?? "", 200);
  }

  complete(markdown, chart) {
    this.finished = true;
    this.outcome = "completed";
    this.cancelButton.hidden = true;
    this.setStatus("completed", "Complete");
    this.showReport(markdown, chart);
    this.announce("The report is ready");
  }

  showReport(markdown, chart) {
    this.report.replaceChildren(el("h3", "report-title", "Report"), renderMarkdown(markdown));
    const figure = renderChart(chart);
    if (figure) this.report.append(figure);
    this.report.hidden = false;
  }

  fail(event) {
    this.finished = true;
    this.cancelButton.hidden = true;
    const cancelled = event.code === "cancelled";
    this.outcome = cancelled ? "cancelled" : "failed";
    this.setStatus(this.outcome, cancelled ? "Cancelled" : "Failed");
    const title = el("strong", "", cancelled ? "The analysis was cancelled." : "The analysis failed.");
    const detail = el("p", "", `${oneLine(event.code ?? "error", 60)}: ${oneLine(event.message ?? "", 600)}`);
    this.errorBox.replaceChildren(title, detail);
    if (event.retryable) this.errorBox.append(el("p", "muted", "This may work if you try again."));
    this.errorBox.hidden = false;
    this.announce(cancelled ? "The analysis was cancelled" : "The analysis failed");
  }
}
