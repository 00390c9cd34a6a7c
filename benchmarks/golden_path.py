"""Golden-path latency: connect, first event and full run, over real sockets.

Starts the emulators and the whole product (the same processes ``scripts/dev``
runs) on free ports, then, as demo users, connects to ``/ws``, sends
"Analyze my AI costs" and times:

* connect: TCP + WebSocket handshake until ``connection_ready`` arrives;
* first event: ``user_message`` sent until the run's first event (seq 1);
* full run: ``user_message`` sent until the supervisor's final event.

``--runs`` sequential runs, then ``--concurrent`` users at once. Prints a
Markdown table with p50 / p99 / max (nearest-rank percentiles).
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

from apex_core.protocol import is_terminal_event
from emulators.emulator import start_emulators
from emulators.processes import ProcessGroup, free_port
from emulators.stack import REPO_ROOT, StackPorts, start_stack

PROMPT = "Analyze my AI costs"


@dataclass
class Timings:
    connect: list[float] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)
    full_run: list[float] = field(default_factory=list)


async def one_run(ws_url: str, timings: Timings, *, deadline: float = 120.0) -> None:
    async with asyncio.timeout(deadline):
        started = time.perf_counter()
        async with connect(ws_url, subprotocols=["apex.v1"], max_size=None) as ws:  # type: ignore[list-item]
            ready = json.loads(await ws.recv())
            if ready.get("type") != "connection_ready":
                raise RuntimeError(f"expected connection_ready, got {ready!r}")
            timings.connect.append(time.perf_counter() - started)
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
                    timings.first_event.append(first)
                    timings.full_run.append(time.perf_counter() - sent)
                    return


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def table(title: str, timings: Timings) -> str:
    rows = [
        f"**{title}** ({len(timings.full_run)} runs)",
        "",
        "| metric | p50 | p99 | max |",
        "|---|---|---|---|",
    ]
    for name, values in (
        ("connect", timings.connect),
        ("first event", timings.first_event),
        ("full run", timings.full_run),
    ):
        rows.append(
            f"| {name} | {percentile(values, 50) * 1000:.0f} ms | "
            f"{percentile(values, 99) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        )
    return "\n".join(rows)


async def measure(ws_url: str, *, runs: int, concurrent: int) -> str:
    warmup = Timings()
    await one_run(ws_url, warmup)  # first run loads code paths and JIT-warms the emulators
    sequential = Timings()
    for _ in range(runs):
        await one_run(ws_url, sequential)
    parallel = Timings()
    await asyncio.gather(*(one_run(ws_url, parallel) for _ in range(concurrent)))
    return "\n\n".join(
        [table("sequential", sequential), table(f"{concurrent} concurrent users", parallel)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=10)
    args = parser.parse_args()
    project = f"apex-bench-{secrets.token_hex(3)}"
    log_dir = REPO_ROOT / ".cache" / "logs" / project
    with ProcessGroup(log_dir=log_dir) as group:
        hosts = start_emulators(
            group, host="127.0.0.1", pubsub_port=free_port(), firestore_port=free_port()
        )
        os.environ.update(hosts.env(project))
        env = {
            **os.environ,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "DEMO_SESSION_SECRET": secrets.token_urlsafe(48),
            "DEMO_MODE": "1",
        }
        stack = start_stack(group, project=project, env=env, ports=StackPorts.free())
        print(asyncio.run(measure(stack.ws_url, runs=args.runs, concurrent=args.concurrent)))


if __name__ == "__main__":
    main()
