"""Restart the product's processes when they die, the way Cloud Run replaces a crashed instance.

:class:`Supervisor` watches the children of a :class:`~emulators.processes.ProcessGroup`.
A *supervised* child (a function, the edge) that exits is reported with its exit
status and the tail of its log, then started again with the same command,
environment and port after a short backoff (:class:`RestartPolicy`: 0.5 s, 1 s,
2 s, 5 s, then every 10 s; a child that stayed up for ``stable_seconds`` starts
the backoff over). Once the restarted child answers its readiness probe again,
that is reported too. Nothing blocks: :meth:`Supervisor.step` does what is due
now and returns, so a Ctrl-C is never kept waiting by a restart.

An *unsupervised* child that exits (an emulator) is fatal: :meth:`Supervisor.run`
returns it and the caller stops everything, as ``scripts/dev`` always did.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from emulators.errors import ProcessFailed
from emulators.processes import Child, ProcessGroup

Report = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    """How long to wait before restarting a child that crashed ``crashes_in_a_row`` times."""

    backoff_seconds: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)
    stable_seconds: float = 30.0
    poll_seconds: float = 0.2

    def delay(self, crashes_in_a_row: int) -> float:
        return self.backoff_seconds[min(crashes_in_a_row, len(self.backoff_seconds) - 1)]


def describe_exit(returncode: int) -> str:
    """``"exit code 3"`` or ``"killed by SIGKILL"`` (Popen's negative return codes)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


@dataclass(slots=True)
class _Watch:
    started_at: float
    crashes_in_a_row: int = 0
    restarts: int = 0
    restart_at: float | None = None
    awaiting_ready: bool = False


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Supervisor:
    """Restarts the children named in ``supervised`` when they exit (see the module doc)."""

    def __init__(
        self,
        group: ProcessGroup,
        *,
        supervised: Collection[str],
        policy: RestartPolicy | None = None,
        report: Report = _stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._group = group
        self._supervised = frozenset(supervised)
        self._policy = policy or RestartPolicy()
        self._report = report
        self._clock = clock
        self._watches: dict[str, _Watch] = {}

    def restarts(self, name: str) -> int:
        """How often the child called ``name`` was restarted so far."""
        watch = self._watches.get(name)
        return 0 if watch is None else watch.restarts

    def step(self) -> list[Child]:
        """Do what is due now; the unsupervised children that have exited."""
        now = self._clock()
        fatal: list[Child] = []
        for child in list(self._group.children):
            if child.name not in self._supervised:
                if child.popen.poll() is not None:
                    fatal.append(child)
                continue
            watch = self._watches.setdefault(child.name, _Watch(started_at=now))
            self._step_one(child, watch, now)
        return fatal

    def _step_one(self, child: Child, watch: _Watch, now: float) -> None:
        if watch.restart_at is not None:
            if now >= watch.restart_at:
                self._restart(child, watch, now)
            return
        code = child.popen.poll()
        if code is None:
            if watch.awaiting_ready and child.probe is not None and child.probe():
                watch.awaiting_ready = False
                self._report(f"{child.name} is ready again (restart {watch.restarts})")
            if now - watch.started_at >= self._policy.stable_seconds:
                watch.crashes_in_a_row = 0
            return
        delay = self._policy.delay(watch.crashes_in_a_row)
        watch.crashes_in_a_row += 1
        watch.restart_at = now + delay
        watch.awaiting_ready = False
        self._report(
            f"{child.name} (pid {child.popen.pid}) {describe_exit(code)}; restarting it in "
            f"{delay:g} s. Last output:\n{child.tail(10)}"
        )

    def _restart(self, child: Child, watch: _Watch, now: float) -> None:
        watch.restart_at = None
        watch.started_at = now
        try:
            child.respawn()
        except ProcessFailed as exc:
            self._report(f"{exc.message}; trying again")
            watch.restart_at = now + self._policy.delay(watch.crashes_in_a_row)
            watch.crashes_in_a_row += 1
            return
        watch.restarts += 1
        watch.awaiting_ready = True
        self._report(f"{child.name} restarted (pid {child.popen.pid}, restart {watch.restarts})")

    def run(self, stop: threading.Event) -> list[Child]:
        """Step until ``stop`` is set (returns ``[]``) or an unsupervised child exits
        (returns those children)."""
        while not stop.wait(self._policy.poll_seconds):
            fatal = self.step()
            if fatal:
                return fatal
        return []
