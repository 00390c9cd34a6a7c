"""Soak: many sockets and concurrent runs for minutes, with a run_agent and an edge kill.

Starts the product's processes (the same ones ``scripts/dev`` runs, supervised
by the same :class:`~emulators.supervision.Supervisor`) on free ports against
the emulators named in the environment, on loopback only. Then ``--sockets``
users connect; the first ``--runs`` of them send a message, follow the run to
its terminal event and send the next one, until ``--duration`` seconds are up;
the others stay connected. A third of the way in ``run_agent`` is SIGKILLed,
two thirds in the edge. A socket that closes reconnects with its token and
``resume``s the run it follows. Bounded: after the duration, runs in flight get
``--drain`` seconds to finish, then everything is stopped.

The report compares what each user received with what Firestore stores:
delivered and lost events (lost must be 0), events received with a content
other than the stored one (0), 1011 closes (0), runs without exactly one
terminal event (0), p50/p99 first event and run time, the edge's RSS.
Exit code 0 only when every must-be-zero count is 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jwt
from google.cloud import firestore
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from apex_core import names
from emulators.processes import ProcessGroup
from emulators.stack import EDGE_PROCESS, REPO_ROOT, STACK_PROCESSES, StackPorts, start_stack
from emulators.supervision import Supervisor

PROMPT = "Analyze my AI costs"
RECONNECT_SECONDS = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakPlan:
    sockets: int = 200
    runs: int = 50
    duration_seconds: float = 180.0
    drain_seconds: float = 240.0
    kills: bool = True


@dataclass
class RunRecord:
    run_id: str = ""
    sent_at: float = 0.0
    first_event_s: float | None = None
    run_s: float | None = None
    received: dict[int, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    terminals: int = 0


@dataclass
class SoakReport:
    sockets: int
    runs_started: int
    runs_finished: int
    delivered_events: int
    lost_events: int
    content_mismatches: int
    closes_1011: int
    closes_other: dict[str, int]
    runs_without_one_terminal: int
    first_event_p50_s: float
    first_event_p99_s: float
    run_p50_s: float
    run_p99_s: float
    edge_rss_mib: dict[str, float]
    restarts: dict[str, int]

    @property
    def ok(self) -> bool:
        return (
            self.lost_events == 0
            and self.content_mismatches == 0
            and self.closes_1011 == 0
            and self.runs_without_one_terminal == 0
        )


@dataclass
class Counters:
    closes: dict[int, int] = field(default_factory=dict)

    def closed(self, exc: ConnectionClosed) -> None:
        code = exc.rcvd.code if exc.rcvd is not None else 1006
        self.closes[code] = self.closes.get(code, 0) + 1


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def is_terminal(frame: dict[str, Any]) -> bool:
    return frame.get("agent") == "supervisor" and frame.get("type") in (
        "agent_completed",
        "agent_error",
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def dial(url: str, token: str) -> ClientConnection:
    """Connect (retrying while the edge restarts) and read ``connection_ready``."""
    deadline = time.monotonic() + RECONNECT_SECONDS
    offered = [Subprotocol("apex.v1"), Subprotocol(f"apex.bearer.{token}")]
    while True:
        try:
            ws = await connect(url, subprotocols=offered, open_timeout=10, max_size=None)
            ready = json.loads(await ws.recv())
            if ready.get("type") != "connection_ready":
                raise RuntimeError(f"expected connection_ready, got {ready!r}")
            return ws
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def runner(
    index: int,
    url: str,
    token: str,
    *,
    until: float,
    counters: Counters,
    records: list[RunRecord],
) -> None:
    """Send a message, follow its run to the end, repeat until ``until``; every run
    started is appended to ``records`` at once (a run cut off by the drain deadline
    is reported as unfinished)."""
    ws = await dial(url, token)
    try:
        while time.monotonic() < until:
            record = RunRecord(sent_at=time.monotonic())
            records.append(record)
            frame = {
                "type": "user_message",
                "text": PROMPT,
                "client_message_id": f"soak-{index}-{len(records)}-{secrets.token_hex(3)}",
            }
            pending: dict[str, Any] | None = frame  # sent before the next read
            while record.run_s is None:
                try:
                    if pending is not None:
                        await ws.send(json.dumps(pending))
                        pending = None
                    message = json.loads(await ws.recv())
                except ConnectionClosed as exc:  # on a send or a read: dial again
                    counters.closed(exc)
                    ws = await dial(url, token)
                    if record.run_id:
                        after = max(record.received, default=0)
                        pending = {"type": "resume", "run_id": record.run_id, "after_seq": after}
                    else:  # not accepted yet: the same client_message_id is the same run
                        pending = frame
                    continue
                _take(record, message, frame)
                if message.get("type") == "error":
                    if not message.get("retryable"):
                        raise RuntimeError(f"the server refused the run: {message}")
                    await asyncio.sleep(1.0)  # a retryable refusal: back off, send again
                    pending = frame
    finally:
        await ws.close()


def _take(record: RunRecord, message: dict[str, Any], frame: dict[str, Any]) -> None:
    kind = message.get("type")
    if kind == "message_accepted" and message.get("client_message_id") == frame.get(
        "client_message_id"
    ):
        record.run_id = str(message["run_id"])
        return
    if "seq" not in message or message.get("run_id") != record.run_id:
        return
    seq = int(message["seq"])
    if seq in record.received:
        record.duplicates += 1
        return
    record.received[seq] = message
    if record.first_event_s is None:
        record.first_event_s = time.monotonic() - record.sent_at
    if is_terminal(message):
        record.terminals += 1
        record.run_s = time.monotonic() - record.sent_at


async def idler(url: str, token: str, stop: asyncio.Event, counters: Counters) -> None:
    """A connected user that sends nothing; reconnects when closed, until ``stop``."""
    while not stop.is_set():
        ws = await dial(url, token)
        closing = asyncio.create_task(stop.wait())
        reading = asyncio.create_task(_read_until_closed(ws, counters))
        await asyncio.wait({closing, reading}, return_when=asyncio.FIRST_COMPLETED)
        closing.cancel()
        if not reading.done():
            reading.cancel()
            await ws.close()


async def _read_until_closed(ws: ClientConnection, counters: Counters) -> None:
    try:
        async for _ in ws:
            pass
    except ConnectionClosed as exc:
        counters.closed(exc)
        return
    if ws.close_code not in (None, 1000):
        counters.closes[ws.close_code] = counters.closes.get(ws.close_code, 0) + 1


def token_for(secret: str, user: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 3600}, secret, algorithm="HS256")


async def drive(
    plan: SoakPlan, url: str, secret: str, group: ProcessGroup, rss: dict[str, float]
) -> tuple[list[RunRecord], Counters]:
    counters = Counters()
    stop = asyncio.Event()
    tokens = [token_for(secret, f"soak-user-{i}") for i in range(plan.sockets)]
    idlers = [
        asyncio.create_task(idler(url, token, stop, counters)) for token in tokens[plan.runs :]
    ]
    edge = _child(group, EDGE_PROCESS)
    rss["after_connect"] = rss_mib(edge.popen.pid)
    until = time.monotonic() + plan.duration_seconds
    records: list[RunRecord] = []
    runners = [
        asyncio.create_task(
            runner(i, url, tokens[i], until=until, counters=counters, records=records)
        )
        for i in range(plan.runs)
    ]
    if plan.kills:
        await asyncio.sleep(plan.duration_seconds / 3)
        _child(group, names.RUN_AGENT_FUNCTION).kill(signal.SIGKILL)
        await asyncio.sleep(plan.duration_seconds / 3)
        rss["before_edge_kill"] = rss_mib(_child(group, EDGE_PROCESS).popen.pid)
        _child(group, EDGE_PROCESS).kill(signal.SIGKILL)
    drain_deadline = until + plan.drain_seconds - time.monotonic()
    done, pending = await asyncio.wait(runners, timeout=max(1.0, drain_deadline))
    for task in pending:  # past the drain deadline: reported as unfinished runs
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    rss["end"] = rss_mib(_child(group, EDGE_PROCESS).popen.pid)
    stop.set()
    await asyncio.gather(*idlers, return_exceptions=True)
    for task in done:
        task.result()  # a runner that failed (a refused run) fails the soak loudly
    return records, counters


def _child(group: ProcessGroup, name: str) -> Any:
    return next(c for c in group.children if c.name == name)


def verify(
    project: str, records: list[RunRecord], counters: Counters, rss: dict[str, float], **more: Any
) -> SoakReport:
    db = firestore.Client(project=project)
    lost = mismatches = bad_terminal = 0
    for record in records:
        stored = {
            int(doc["seq"]): doc
            for snap in db.collection(names.RUNS, record.run_id or "-", names.EVENTS).get()
            for doc in [snap.to_dict() or {}]
        }
        lost += len(set(stored) - set(record.received))
        mismatches += sum(1 for seq, ev in record.received.items() if stored.get(seq) != ev)
        stored_terminals = sum(1 for ev in stored.values() if is_terminal(ev))
        if record.terminals != 1 or stored_terminals != 1 or record.duplicates:
            bad_terminal += 1
    finished = [r for r in records if r.run_s is not None]
    firsts = [r.first_event_s for r in records if r.first_event_s is not None]
    return SoakReport(
        runs_started=len(records),
        runs_finished=len(finished),
        delivered_events=sum(len(r.received) for r in records),
        lost_events=lost,
        content_mismatches=mismatches,
        closes_1011=counters.closes.get(1011, 0),
        closes_other={str(k): v for k, v in sorted(counters.closes.items()) if k != 1011},
        runs_without_one_terminal=bad_terminal,
        first_event_p50_s=round(percentile(firsts, 50), 2),
        first_event_p99_s=round(percentile(firsts, 99), 2),
        run_p50_s=round(percentile([r.run_s for r in finished if r.run_s], 50), 2),
        run_p99_s=round(percentile([r.run_s for r in finished if r.run_s], 99), 2),
        edge_rss_mib=rss,
        **more,
    )


def soak(plan: SoakPlan, *, log_dir: Path) -> SoakReport:
    """Run the soak against the emulators in the environment; the report."""
    project = f"soak-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "JWT_SECRET": secret,
        "DEMO_SESSION_SECRET": secrets.token_urlsafe(48),
        "DEMO_MODE": "1",
        # A killed delivery's lease is waited out by the redelivery: keep that short.
        "RUN_LEASE_SECONDS": "20",
        "EDGE_MAX_SOCKETS_PER_USER": "4",
    }
    env.pop("ENVIRONMENT", None)
    stop = threading.Event()
    with ProcessGroup(log_dir=log_dir / project) as group:
        stack = start_stack(group, project=project, env=env, ports=StackPorts.free())
        supervisor = Supervisor(group, supervised=STACK_PROCESSES)
        watcher = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
        watcher.start()
        rss: dict[str, float] = {}
        try:
            records, counters = asyncio.run(drive(plan, stack.ws_url, secret, group, rss))
        finally:
            stop.set()
            watcher.join(timeout=10)
        restarts = {name: supervisor.restarts(name) for name in STACK_PROCESSES}
    return verify(project, records, counters, rss, sockets=plan.sockets, restarts=restarts)


def markdown(report: SoakReport) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in asdict(report).items())
    return f"| measure | value |\n|---|---|\n{rows}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50, help="concurrent runs")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--drain", type=float, default=240.0, help="seconds to finish runs")
    parser.add_argument("--no-kills", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= args.sockets <= 1000 or not 0 < args.duration <= 3600:
        parser.error("need 1 <= --runs <= --sockets <= 1000 and 0 < --duration <= 3600")
    plan = SoakPlan(
        sockets=args.sockets,
        runs=args.runs,
        duration_seconds=args.duration,
        drain_seconds=args.drain,
        kills=not args.no_kills,
    )
    log_dir = Path(os.environ.get("APEX_LOG_DIR", REPO_ROOT / ".cache" / "logs" / "soak"))
    report = soak(plan, log_dir=log_dir)
    print(f"load average after: {os.getloadavg()}")
    print(markdown(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
