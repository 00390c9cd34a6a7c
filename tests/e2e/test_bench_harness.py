"""The benchmark harness (``scripts/bench golden``) at a tiny size, so it keeps working.

No timings are asserted: only that every run was measured and succeeded.
"""

from __future__ import annotations

import asyncio

from benchmarks.floor import measure_floor
from benchmarks.golden_path import Timings, measure, one_run, row
from tests.conftest import EmulatorEnv, RunningStack


def test_the_golden_path_harness_measures_every_run_of_every_level(stack: RunningStack) -> None:
    rows = asyncio.run(measure(stack.stack.ws_url, label="after", runs=1, users=[2], deadline=120))

    assert [r.split(" | ")[:3] for r in rows] == [
        ["| after", "1 (1 in a row)", "100% (1/1)"],
        ["| after", "2", "100% (2/2)"],
    ]


def test_a_run_that_cannot_connect_counts_as_a_failure() -> None:
    timings = Timings()

    asyncio.run(one_run("ws://127.0.0.1:9/ws", timings, deadline=10))

    assert timings.attempted == 1
    assert timings.full_run == []
    assert row("before", "1", timings).split(" | ")[2] == "0% (0/1)"


def test_the_floor_times_each_delivery_path(emulator_env: EmulatorEnv) -> None:
    floor = measure_floor(emulator_env.project, samples=2)

    assert [len(floor.emulator_push), len(floor.forwarder_push), len(floor.pull)] == [2, 2, 2]
