"""Golden-path latency under concurrency, before and after the push forwarder, and the floor.

Starts both emulators once, measures the floor (:mod:`benchmarks.floor`), then
for each request delivery (``push``: the emulator's own push, the way the
local stack ran before; ``pull``: the push forwarder, as ``scripts/dev`` runs
now) starts the whole product on free ports in a project of its own and, as
new demo users over real sockets, connects to ``/ws``, sends "Analyze my AI
costs" and times:

* connect: TCP + WebSocket handshake until ``connection_ready`` arrives;
* first event: ``user_message`` sent until the run's first event (seq 1);
* full run: ``user_message`` sent until the supervisor's final event.

One warm-up run, ``--runs`` runs one after another, then for each of
``--users`` that many users at once (each run bounded by ``--deadline``
seconds; a run that fails or misses it counts against the success rate).
Each stack is stopped before the next starts. Prints Markdown tables with
nearest-rank percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from apex_core.protocol import is_terminal_event
from benchmarks.floor import Floor, measure_floor
from emulators.emulator import start_emulators
from emulators.processes import ProcessGroup, free_port
from emulators.provision import RequestsDelivery
from emulators.stack import REPO_ROOT, StackPorts, start_stack

PROMPT = "Analyze my AI costs"
DELIVERY_LABEL: dict[RequestsDelivery, str] = {
    "push": "before: emulator push",
    "pull": "after: push forwarder",
}


@dataclass
class Timings:
    connect: list[float] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)
    full_run: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return len(self.full_run) + len(self.failures)


async def one_run(ws_url: str, timings: Timings, *, deadline: float) -> None:
    """One new demo user's analysis; its times, or why it failed, go to ``timings``."""
    try:
        async with asyncio.timeout(deadline):
            await _run(ws_url, timings)
    except (TimeoutError, OSError, RuntimeError, ValueError, WebSocketException) as exc:
        timings.failures.append(f"{type(exc).__name__}: {exc}"[:200])


async def _run(ws_url: str, timings: Timings) -> None:
    started = time.perf_counter()
    async with connect(ws_url, subprotocols=["apex.v1"], max_size=None) as ws:  # type: ignore[list-item]
        ready = json.loads(await ws.recv())
        if ready.get("type") != "connection_ready":
            raise RuntimeError(f"expected connection_ready, got {ready!r}")
        connected = time.perf_counter() - started
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "user_message", "text": PROMPT}))
        first: float | None = None
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "error":
                raise RuntimeError(f"server error: {frame}")
            if "seq" not in frame:
                continue
            if first is None:
                first = time.perf_counter() - sent
            if is_terminal_event(frame):
                if frame["type"] == "agent_error":
                    raise RuntimeError(f"run failed: {frame}")
                timings.connect.append(connected)
                timings.first_event.append(first)
                timings.full_run.append(time.perf_counter() - sent)
                return


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def p50_p99(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{seconds(percentile(values, 50))} / {seconds(percentile(values, 99))}"


def row(label: str, users: str, timings: Timings) -> str:
    success = 100 * len(timings.full_run) / max(1, timings.attempted)
    return (
        f"| {label} | {users} | {success:.0f}% ({len(timings.full_run)}/{timings.attempted}) | "
        f"{p50_p99(timings.connect)} | {p50_p99(timings.first_event)} | "
        f"{p50_p99(timings.full_run)} |"
    )


TABLE_HEAD = (
    "| delivery | users at once | success | connect p50 / p99 | first event p50 / p99 "
    "| full run p50 / p99 |\n|---|---|---|---|---|---|"
)


def floor_table(floor: Floor) -> str:
    return "\n".join(
        [
            "| path (publish until arrival) | p50 / p99 |",
            "|---|---|",
            f"| emulator push | {p50_p99(floor.emulator_push)} |",
            f"| forwarder push | {p50_p99(floor.forwarder_push)} |",
            f"| streaming pull | {p50_p99(floor.pull)} |",
        ]
    )


async def measure(
    ws_url: str, *, label: str, runs: int, users: list[int], deadline: float, echo: bool = False
) -> list[str]:
    """The rows of one stack: sequential runs, then each level of users at once
    (each row also printed as it is measured when ``echo``)."""
    rows: list[str] = []

    def add(line: str) -> None:
        rows.append(line)
        if echo:
            print(line, flush=True)

    warmup = Timings()
    await one_run(ws_url, warmup, deadline=deadline)
    if runs:
        sequential = Timings()
        for _ in range(runs):
            await one_run(ws_url, sequential, deadline=deadline)
        add(row(label, f"1 ({runs} in a row)", sequential))
    for count in users:
        level = Timings()
        await asyncio.gather(*(one_run(ws_url, level, deadline=deadline) for _ in range(count)))
        add(row(label, str(count), level))
        if level.failures:
            add(f"|  | first failure: {level.failures[0]} | | | | |")
    return rows


def bench_stack(
    delivery: RequestsDelivery, *, runs: int, users: list[int], deadline: float
) -> list[str]:
    project = f"apex-bench-{delivery}-{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DEMO_SESSION_SECRET": secrets.token_urlsafe(48),
        "DEMO_MODE": "1",
    }
    with ProcessGroup(log_dir=REPO_ROOT / ".cache" / "logs" / project) as group:
        stack = start_stack(
            group, project=project, env=env, ports=StackPorts.free(), requests_delivery=delivery
        )
        return asyncio.run(
            measure(
                stack.ws_url,
                label=DELIVERY_LABEL[delivery],
                runs=runs,
                users=users,
                deadline=deadline,
                echo=True,
            )
        )


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="runs one after another")
    parser.add_argument("--users", type=_ints, default=[1, 10, 50, 200], help="e.g. 1,10,50")
    parser.add_argument("--deliveries", default="push,pull", help="push, pull or push,pull")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--floor-samples", type=int, default=30)
    args = parser.parse_args()
    deliveries: list[RequestsDelivery] = []
    for part in args.deliveries.split(","):
        if part not in DELIVERY_LABEL:
            parser.error(f"--deliveries takes push and/or pull, not {part!r}")
        deliveries.append(part)
    with ProcessGroup(log_dir=REPO_ROOT / ".cache" / "logs" / "bench-emulators") as group:
        hosts = start_emulators(
            group, host="127.0.0.1", pubsub_port=free_port(), firestore_port=free_port()
        )
        os.environ.update(hosts.env(f"apex-bench-{secrets.token_hex(3)}"))
        floor = measure_floor(os.environ["GOOGLE_CLOUD_PROJECT"], samples=args.floor_samples)
        print(f"**Floor** ({args.floor_samples} messages each, one at a time)\n")
        print(floor_table(floor), flush=True)
        print(f"\n**Golden path** (run deadline {args.deadline:.0f} s)\n\n{TABLE_HEAD}", flush=True)
        for delivery in deliveries:
            bench_stack(delivery, runs=args.runs, users=args.users, deadline=args.deadline)


if __name__ == "__main__":
    main()
