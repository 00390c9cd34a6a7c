"""The soak of scripts/soak, small: sockets and concurrent runs for under a minute, with a
run_agent and an edge kill. Nothing lost, no 1011, every run ends once."""

from __future__ import annotations

from benchmarks.soak import SoakPlan, soak
from tests.conftest import EmulatorEnv


def test_a_small_soak_with_kills_loses_nothing(emulator_env: EmulatorEnv) -> None:
    plan = SoakPlan(sockets=24, runs=6, duration_seconds=45.0, drain_seconds=150.0)
    report = soak(plan, log_dir=emulator_env.log_dir)
    assert report.runs_started >= plan.runs
    assert report.runs_finished == report.runs_started, report
    assert report.delivered_events > 0
    assert report.lost_events == 0, report
    assert report.content_mismatches == 0, report
    assert report.closes_1011 == 0, report
    assert report.runs_without_one_terminal == 0, report
    assert report.restarts["run_agent"] >= 1, report
    assert report.restarts["edge"] >= 1, report
