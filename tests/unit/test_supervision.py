"""The supervisor of ``scripts/dev`` with real (tiny) child processes and a clock of its own."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from emulators.processes import ProcessGroup
from emulators.supervision import RestartPolicy, Supervisor, describe_exit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
CRASHER = [sys.executable, "-c", "import sys; print('boom', flush=True); sys.exit(3)"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_exited(group: ProcessGroup, name: str) -> None:
    child = next(c for c in group.children if c.name == name)
    deadline = time.monotonic() + 20
    while child.popen.poll() is None:
        assert time.monotonic() < deadline, f"{name} did not exit"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("code", "text"),
    [(3, "exit code 3"), (0, "exit code 0"), (-9, "killed by SIGKILL"), (-15, "killed by SIGTERM")],
)
def test_exit_statuses_are_described(code: int, text: str) -> None:
    assert describe_exit(code) == text


def test_the_backoff_grows_and_stays_at_its_last_step() -> None:
    policy = RestartPolicy(backoff_seconds=(0.5, 1.0, 5.0))
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 5.0, 5.0, 5.0]


def test_a_killed_child_is_reported_and_restarted_after_its_backoff(tmp_path: Path) -> None:
    clock = Clock()
    reports: list[str] = []
    with ProcessGroup(log_dir=tmp_path) as group:
        child = group.start("worker", SLEEPER, env={})
        supervisor = Supervisor(
            group,
            supervised=["worker"],
            policy=RestartPolicy(backoff_seconds=(2.0, 4.0)),
            report=reports.append,
            clock=clock,
        )
        first_pid = child.popen.pid
        assert supervisor.step() == []
        child.kill(signal.SIGKILL)
        wait_exited(group, "worker")
        supervisor.step()
        assert reports[-1].startswith(f"worker (pid {first_pid}) killed by SIGKILL; restarting")
        assert "in 2 s" in reports[-1]
        clock.now = 1.9
        supervisor.step()
        assert child.popen.pid == first_pid, "restarted before its backoff"
        clock.now = 2.0
        supervisor.step()
        assert child.popen.pid != first_pid
        assert child.popen.poll() is None
        assert supervisor.restarts("worker") == 1
        assert reports[-1] == f"worker restarted (pid {child.popen.pid}, restart 1)"


def test_a_crash_loop_backs_off_further_and_logs_the_output(tmp_path: Path) -> None:
    clock = Clock()
    reports: list[str] = []
    with ProcessGroup(log_dir=tmp_path) as group:
        group.start("crasher", CRASHER, env={})
        supervisor = Supervisor(
            group,
            supervised=["crasher"],
            policy=RestartPolicy(backoff_seconds=(1.0, 3.0)),
            report=reports.append,
            clock=clock,
        )
        delays = []
        for _ in range(3):
            wait_exited(group, "crasher")
            supervisor.step()
            crash = reports[-1]
            assert "exit code 3" in crash
            assert "boom" in crash, "the report shows the child's last output"
            delays.append(crash.split(" in ")[1].split(" s.")[0])
            clock.now += 10
            supervisor.step()
        assert delays == ["1", "3", "3"]
        assert supervisor.restarts("crasher") == 3


def test_an_unsupervised_child_that_exits_is_fatal(tmp_path: Path) -> None:
    with ProcessGroup(log_dir=tmp_path) as group:
        group.start("emulator", CRASHER, env={})
        group.start("worker", SLEEPER, env={})
        supervisor = Supervisor(group, supervised=["worker"], report=lambda _: None)
        wait_exited(group, "emulator")
        fatal = supervisor.step()
        assert [c.name for c in fatal] == ["emulator"]
