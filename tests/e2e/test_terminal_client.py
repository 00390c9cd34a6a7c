"""``apex chat`` against the real local stack: the installed console script as a subprocess.

``--json`` for scripts (every frame a JSON line, seq 1..N, exit codes), the
errors a user meets first (nothing listening, a refused token, bad arguments),
and the interactive prompt through a pseudo-terminal, read with deadlines.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from emulators.processes import free_port
from emulators.stack import REPO_ROOT
from tests.conftest import RunningStack

pytestmark = pytest.mark.emulators

APEX = REPO_ROOT / ".venv" / "bin" / "apex"
AGENTS = {"supervisor", "triage", "data", "optimization", "reporting"}
RUN_SECONDS = 120
REPORT_PANEL = r"╭─+ Report ─+╮"
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def apex_chat(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("APEX_TOKEN", "APEX_URL")}
    return subprocess.run(
        [str(APEX), "chat", *args],
        capture_output=True,
        text=True,
        env={**full_env, **(env or {})},
        timeout=RUN_SECONDS + 60,
        check=False,
    )


def user_token(stack: RunningStack, sub: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "iat": now, "exp": now + 600}, stack.jwt_secret, algorithm="HS256"
    )


def frames_of(stdout: str) -> list[dict[str, Any]]:
    frames = [json.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(frame, dict) for frame in frames)
    return frames


# ---------------------------------------------------------------- --json


def test_json_mode_prints_one_run_frame_by_frame_and_exits_0(stack: RunningStack) -> None:
    result = apex_chat(
        "--url", stack.stack.ws_url, "-m", "Analyze my AI costs", "--json", "--timeout", "120"
    )

    assert result.returncode == 0, result.stderr
    frames = frames_of(result.stdout)
    ready = frames[0]
    assert ready["type"] == "connection_ready"
    assert ready["demo"] is True
    assert ready["session_token"] == "[redacted]"  # a credential: never printed
    accepted = next(f for f in frames if f["type"] == "message_accepted")
    events = [f for f in frames if "seq" in f]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["run_id"] for e in events} == {accepted["run_id"]}
    assert {e["agent"] for e in events} == AGENTS
    last = frames[-1]
    assert last is events[-1]
    assert last["type"] == "agent_completed"
    assert last["agent"] == "supervisor"
    assert last["final"] is True
    assert isinstance(last["response"], str)
    assert last["response"].strip()
    assert "eyJ" not in result.stdout  # no JWT anywhere in the output


def test_json_mode_signs_in_with_a_token_from_the_environment(stack: RunningStack) -> None:
    result = apex_chat(
        "--url",
        stack.stack.ws_url,
        "-m",
        "Analyze my AI costs",
        "--json",
        env={"APEX_TOKEN": user_token(stack, "cli-e2e-user")},
    )

    assert result.returncode == 0, result.stderr
    ready = frames_of(result.stdout)[0]
    assert ready["type"] == "connection_ready"
    assert ready["demo"] is False
    assert ready["user_id"] == "cli-e2e-user"
    assert "session_token" not in ready


def test_a_refused_token_exits_1_with_the_reason(stack: RunningStack) -> None:
    forged = jwt.encode(
        {"sub": "mallory", "exp": int(time.time()) + 600}, "x" * 48, algorithm="HS256"
    )
    result = apex_chat("--url", stack.stack.ws_url, "-m", "hi", "--json", "--token", forged)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "refused the credentials (HTTP 401)" in result.stderr
    assert forged not in result.stderr


def test_nothing_listening_exits_1_with_a_clear_message() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    result = apex_chat("--url", url, "-m", "Analyze my AI costs", "--json", "--timeout", "10")

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"error: cannot connect to {url}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json"], "--json needs -m MESSAGE"),
        (["-m", ""], "-m takes 1 to 4000 characters"),
        (["-m", "x" * 4001], "-m takes 1 to 4000 characters; this one has 4001"),
        (["--url", "http://127.0.0.1:8080/ws", "-m", "hi"], "--url must start with ws://"),
        (["--timeout", "0", "-m", "hi"], "--timeout must be a positive number"),
        (["--timeout", "soon", "-m", "hi"], "invalid float value"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = apex_chat(*args)

    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------- interactive


class Terminal:
    """``apex chat`` on a pseudo-terminal (100 x 40); output read with deadlines."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("APEX_TOKEN", "APEX_URL")}
        env.update({"TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"})
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.raw = b""
        self.seen = 0  # how much of the text expect() has consumed

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", errors="replace")).replace("\r", "")

    def _read_some(self, until: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, pattern: str, *, within: float = 30.0) -> re.Match[str]:
        """Wait for ``pattern`` (a regex) after what earlier expects consumed."""
        deadline = time.monotonic() + within
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.text, self.seen)
            if match:
                self.seen = match.end()
                return match
            if time.monotonic() >= deadline or not self._read_some(deadline):
                if time.monotonic() < deadline and self.process.poll() is None:
                    continue
                raise AssertionError(
                    f"{pattern!r} did not appear within {within:g} s; the terminal shows:\n"
                    + self.text[-3000:]
                )

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def wait_exit(self, *, within: float = 15.0) -> int:
        deadline = time.monotonic() + within
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read_some(min(deadline, time.monotonic() + 0.2))
        return self.process.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def terminal(stack: RunningStack) -> Iterator[Terminal]:
    term = Terminal([str(APEX), "chat", "--url", stack.stack.ws_url])
    try:
        yield term
    finally:
        term.close()


def test_interactive_chat_shows_the_run_and_the_report_then_quits(terminal: Terminal) -> None:
    terminal.expect(r"connected as demo user demo-user-\S+")
    terminal.expect(r"you> ")

    terminal.type("Analyze my AI costs")

    # tool calls with their durations as they finish, then a status line per agent
    terminal.expect(r"triage · \w+ ✓ \d+(\.\d+)? m?s", within=RUN_SECONDS)
    terminal.expect(REPORT_PANEL, within=RUN_SECONDS)
    terminal.expect(r"you> ")
    final = terminal.text
    report = final[final.rindex("Report ─") :]
    status = final[: final.rindex("Report ─")]
    for agent in AGENTS:
        assert re.search(rf"✓ {agent}\s+done", status), f"no done line for {agent}:\n{status}"
    assert "$" in report  # the report talks money

    terminal.type("/threads")
    thread_id = terminal.expect(r"(t-[0-9a-f]{8,})\s+Analyze my AI costs").group(1)
    terminal.expect(r"you> ")

    terminal.type(f"/open {thread_id}")
    terminal.expect(r"Analyze my AI costs")
    terminal.expect(r"you> Analyze my AI costs")
    terminal.expect(REPORT_PANEL)
    terminal.expect(r"you> ")

    terminal.type("/no-such-command")
    terminal.expect(r"error: unknown command /no-such-command")
    terminal.expect(r"you> ")

    terminal.type("/quit")
    assert terminal.wait_exit() == 0


def test_interactive_chat_ends_cleanly_at_end_of_input(terminal: Terminal) -> None:
    terminal.expect(r"you> ")
    os.write(terminal.master, b"\x04")  # Ctrl-D on an empty line: end of input

    assert terminal.wait_exit() == 0


def test_the_console_script_is_installed() -> None:
    assert Path(APEX).is_file(), f"{APEX} is missing: run scripts/bootstrap (uv sync)"
