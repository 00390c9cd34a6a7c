"""Child processes that start in their own process group, become ready, and stop cleanly.

A :class:`ProcessGroup` owns every child it starts and stops them in reverse
order: SIGTERM to the child's whole process group, then SIGKILL after a grace
period. Readiness is waited on by polling with a deadline (a TCP connect or an
HTTP status), never by sleeping a fixed time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from emulators.errors import ProcessFailed

POLL_INTERVAL_SECONDS = 0.05


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tcp_ready(host: str, port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe


def http_ready(url: str, *, status: int = 200) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL
                return bool(response.status == status)
        except urllib.error.HTTPError as exc:
            return exc.code == status
        except (OSError, ValueError):
            return False

    return probe


@dataclass(frozen=True, slots=True)
class Launch:
    """How a child was started, so that it can be started again the same way."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path | None = None


@dataclass
class Child:
    """One started child process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None
    launch: Launch
    _log: IO[bytes] | None = field(default=None, repr=False)
    # The readiness probe it was last waited on; a restart waits on it again.
    probe: Callable[[], bool] | None = field(default=None, repr=False)

    def tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, probe: Callable[[], bool], *, timeout: float) -> None:
        """Poll ``probe`` until it is true; fail early if the child exits."""
        self.probe = probe
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ProcessFailed(
                    f"{self.name} exited with code {self.popen.returncode} before it was ready; "
                    f"last output:\n{self.tail()}"
                )
            if probe():
                return
            time.sleep(POLL_INTERVAL_SECONDS)
        raise ProcessFailed(
            f"{self.name} was not ready within {timeout:.0f} s; last output:\n{self.tail()}"
        )

    def stop(self, *, grace: float = 8.0) -> int:
        """SIGTERM the child's process group, SIGKILL it after ``grace`` seconds."""
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        else:
            # The leader is gone; make sure nothing it forked survives it.
            _signal_group(self.popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        return self.popen.returncode

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the child's whole process group (a crash kills every process of
        a container, not only its first one)."""
        _signal_group(self.popen.pid, sig)

    def respawn(self) -> None:
        """Start the child again from its :class:`Launch` (after it exited); its output is
        appended to the same log. Whatever the old process group left behind is killed."""
        if self.popen.poll() is None:
            raise ProcessFailed(f"{self.name} is still running (pid {self.popen.pid})")
        _signal_group(self.popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        self.popen, self._log = _spawn(self.name, self.launch, self.log_path, mode="ab")


def _spawn(
    name: str, launch: Launch, log_path: Path | None, *, mode: str
) -> tuple[subprocess.Popen[bytes], IO[bytes] | None]:
    log: IO[bytes] | None = None
    if log_path is not None:
        log = log_path.open(mode)
    try:
        popen = subprocess.Popen(  # noqa: S603 - argv built by this package
            list(launch.argv),
            env=dict(launch.env),
            cwd=launch.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            start_new_session=True,
        )
    except OSError as exc:
        if log is not None:
            log.close()
        raise ProcessFailed(f"could not start {name} ({launch.argv[0]}): {exc}") from exc
    return popen, log


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return


class ProcessGroup:
    """Starts children and stops all of them, last started first, on exit."""

    def __init__(self, *, log_dir: Path | None = None) -> None:
        self.children: list[Child] = []
        self.log_dir = log_dir
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None = None,
    ) -> Child:
        """Start ``argv`` in a new session; output goes to ``<log_dir>/<name>.log``
        (or is inherited when there is no log dir)."""
        log_path = None if self.log_dir is None else self.log_dir / f"{name}.log"
        launch = Launch(argv=tuple(argv), env=dict(env), cwd=cwd)
        popen, log = _spawn(name, launch, log_path, mode="wb")
        child = Child(name=name, popen=popen, log_path=log_path, launch=launch, _log=log)
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        while self.children:
            self.children.pop().stop()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
