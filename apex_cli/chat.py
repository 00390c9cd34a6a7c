"""``apex chat``: talk to Netra Apex from a terminal.

Interactive (the default): a prompt that sends each line as a message and
shows the run live — a status line per agent, each tool call with its
duration — then the final report rendered as markdown. Commands: ``/threads``,
``/open ID``, ``/new``, ``/help``, ``/quit``. Ctrl-C during a run cancels it;
Ctrl-D or ``/quit`` leaves.

One-shot: ``apex chat -m "Analyze my AI costs"`` renders one run and exits;
with ``--json`` it prints every frame it receives as one JSON line (tokens
redacted) for scripts and deployment smoke tests. Exit codes: 0 when the run
ends with the supervisor's final ``agent_completed``; 1 on ``agent_error``, an
``error`` frame, a connection failure or the timeout; 2 for bad arguments.

The connection reconnects with backoff and resumes the run from the last
``seq`` seen; a demo user stays the same demo user through its session token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from apex_cli.chat_render import (
    RunView,
    clean,
    one_line,
    render_agents,
    render_error,
    render_report,
    render_thread,
    render_threads,
    render_tool_call,
)
from apex_cli.ws_session import ApexSession, Frame, SessionError, redact
from apex_core.protocol import MAX_TEXT_CHARS, TERMINAL_STATUSES

DEFAULT_URL: Final = "ws://127.0.0.1:8080/ws"
DEFAULT_TIMEOUT_SECONDS: Final = 120.0
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
HELP: Final = (
    "Type a message and press Enter. Commands: /threads (list), /open ID (show a thread and "
    "continue in it), /new (start a new thread), /help, /quit. Ctrl-C cancels a running "
    "analysis; Ctrl-D quits."
)


DESCRIPTION: Final = (
    "Chat with Netra Apex from a terminal. Without -m: a prompt (/threads, /open ID, /new, "
    "/help, /quit; Ctrl-C cancels a running analysis). With -m: one run, rendered, or with "
    "--json every received frame as one JSON line (tokens redacted). Exit codes: 0 when the run "
    "ends with its final report, 1 on a run error, a server error, a connection failure or the "
    "timeout, 2 for bad arguments. Reconnects with backoff and resumes from the last seq seen."
)


class UsageError(Exception):
    """Bad arguments: exit code 2."""


@dataclass(frozen=True)
class ChatOptions:
    url: str
    token: str | None = None
    thread_id: str | None = None
    wait_seconds: float = DEFAULT_TIMEOUT_SECONDS  # for one run to finish


# ---------------------------------------------------------------- arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("APEX_URL", DEFAULT_URL),
        help=f"the edge's WebSocket URL (env APEX_URL; default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="a JWT to sign in with (prefer env APEX_TOKEN: arguments show up in ps); "
        "without one you are a demo user",
    )
    parser.add_argument(
        "-m", "--message", help="send this one message, show its run and exit (no prompt)"
    )
    parser.add_argument(
        "--thread", default=None, help="continue this thread id instead of starting a new one"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="with -m: print every received frame as one JSON line instead of rendering",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds to wait for a run to finish (default {DEFAULT_TIMEOUT_SECONDS:.0f})",
    )


def register(subparsers: Any) -> None:
    """Add ``chat`` to the ``apex`` command's subcommands."""
    parser = subparsers.add_parser(
        "chat",
        help="chat with Netra Apex from the terminal",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def validate(args: argparse.Namespace) -> None:
    url = str(args.url)
    if not url.startswith(("ws://", "wss://")):
        raise UsageError(f"--url must start with ws:// or wss://, got {url!r}")
    if args.json and args.message is None:
        raise UsageError("--json needs -m MESSAGE (it is for one non-interactive run)")
    if args.message is not None and not 1 <= len(args.message) <= MAX_TEXT_CHARS:
        raise UsageError(
            f"-m takes 1 to {MAX_TEXT_CHARS} characters; this one has {len(args.message)}"
        )
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")


def run(args: argparse.Namespace) -> int:
    """Entry point for ``apex chat``; returns the process exit code."""
    try:
        validate(args)
    except UsageError as exc:
        print(f"apex chat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = ChatOptions(
        url=str(args.url),
        token=args.token or os.environ.get("APEX_TOKEN") or None,
        thread_id=args.thread,
        wait_seconds=float(args.timeout),
    )
    try:
        if args.json:
            return asyncio.run(run_json(options, args.message))
        chat = TerminalChat(Console(highlight=False), options)
        if args.message is not None:
            return asyncio.run(chat.run_one(args.message))
        return asyncio.run(chat.run_interactive())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout was closed early (e.g. piped into `head`): stop quietly, like other CLIs.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


# ---------------------------------------------------------------- --json


def _print_json(frame: Frame) -> None:
    sys.stdout.write(json.dumps(redact(frame), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _stderr_notice(text: str) -> None:
    print(f"apex chat: {text}", file=sys.stderr, flush=True)


async def run_json(options: ChatOptions, message: str) -> int:
    """One run, every received frame printed as a JSON line; the exit code says how it ended."""
    session = ApexSession(
        options.url, token=options.token, on_notice=_stderr_notice, on_ready=_print_json
    )
    try:
        async with asyncio.timeout(options.wait_seconds):
            await session.connect()
            accepted = await session.send_message(
                message, thread_id=options.thread_id, on_frame=_print_json
            )
            terminal = await session.follow_run(
                str(accepted["run_id"]), on_event=_print_json, on_frame=_print_json
            )
    except TimeoutError:
        _stderr_notice(
            f"error: the run did not finish within {options.wait_seconds:g} s (--timeout)"
        )
        return EXIT_FAILED
    except SessionError as exc:
        _stderr_notice(f"error: {exc.message}")
        return EXIT_FAILED
    finally:
        await session.close()
    if terminal.get("type") == "agent_completed":
        return EXIT_OK
    _stderr_notice(
        f"error: the run failed: {one_line(terminal.get('code', 'error'))}: "
        f"{one_line(terminal.get('message', ''), 500)}"
    )
    return EXIT_FAILED


# ---------------------------------------------------------------- rendering a run


class LiveRun:
    """Shows one run in the terminal while its events arrive: a live status line per
    agent, and each finished tool call printed above it with its duration."""

    def __init__(self, console: Console) -> None:
        self.view = RunView()
        self.live = Live(
            render_agents(self.view), console=console, refresh_per_second=8, transient=False
        )

    def __enter__(self) -> LiveRun:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(render_agents(self.view), refresh=True)
        self.live.stop()
        if not self.live.console.is_terminal:
            self.live.console.line()  # a non-terminal Live leaves its last line open

    def on_event(self, event: Frame) -> None:
        finished = self.view.apply(event)
        if finished is not None:
            self.live.console.print(render_tool_call(finished))
        self.live.update(render_agents(self.view), refresh=True)

    def notice(self, text: str) -> None:
        self.live.console.print(Text(clean(text), style="yellow"))


@dataclass(frozen=True)
class _Outcome:
    """What a slash command asks of the prompt loop."""

    quit: bool = False
    switch: bool = False  # continue in thread_id (None: a new thread) from now on
    thread_id: str | None = None


class StdinLines:
    """Lines from stdin, read by a daemon thread so that a pending read never blocks exit."""

    def __init__(self, stream: TextIO) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._stream = stream
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, name="apex-chat-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            line = self._stream.readline()
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line or None)
            if not line:
                return

    async def get(self) -> str | None:
        """The next line without its newline, or ``None`` at end of input."""
        line = await self._queue.get()
        return None if line is None else line.rstrip("\r\n")


class TerminalChat:
    """The human-facing client: rich rendering, a prompt, Ctrl-C to cancel a run."""

    def __init__(self, console: Console, options: ChatOptions) -> None:
        self.console = console
        self.options = options
        self.thread_id = options.thread_id
        self._live: LiveRun | None = None
        self.session = ApexSession(options.url, token=options.token, on_notice=self.notice)
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ output

    def notice(self, text: str) -> None:
        """A connection notice (reconnecting…), shown above the live view while a run is on."""
        if self._live is not None:
            self._live.notice(text)
        else:
            self.console.print(Text(clean(text), style="yellow"))

    def error(self, text: str) -> None:
        line = Text("error: ", style="bold red")
        line.append(clean(text))
        self.console.print(line)

    def identity(self) -> Text:
        line = Text("connected", style="green")
        if self.session.demo:
            line.append(" as demo user ")
            line.append(clean(self.session.user_id or ""), style="bold")
            line.append("  (demo mode: sample data, not kept for long)", style="dim")
        else:
            line.append(" as ")
            line.append(clean(self.session.user_id or ""), style="bold")
        return line

    # ------------------------------------------------------------ modes

    async def run_one(self, message: str) -> int:
        """``apex chat -m``: one run rendered in the terminal."""
        try:
            await self.session.connect()
            self.console.print(self.identity())
            return await self.send(message)
        except SessionError as exc:
            self.error(exc.message)
            return EXIT_FAILED
        finally:
            await self.session.close()

    async def run_interactive(self, stdin: TextIO = sys.stdin) -> int:
        """The prompt loop; returns when the user quits or stdin ends."""
        try:
            await self.session.connect()
        except SessionError as exc:
            self.error(exc.message)
            return EXIT_FAILED
        self.console.print(self.identity())
        self.console.print(Text(HELP, style="dim"))
        lines = StdinLines(stdin)
        try:
            while True:
                self.console.print(Text("you> ", style="bold cyan"), end="")
                line = await lines.get()
                if line is None:
                    self.console.print()
                    return EXIT_OK
                text = line.strip()
                if not text:
                    continue
                if not text.startswith("/"):
                    await self.send(text)
                    continue
                outcome = await self.command(text)
                if outcome.quit:
                    return EXIT_OK
                if outcome.switch:
                    self.thread_id = outcome.thread_id
        finally:
            await self.session.close()

    # ------------------------------------------------------------ steps

    async def send(self, text: str) -> int:
        """Send one message and follow its run; the exit code of the run."""
        if not 1 <= len(text) <= MAX_TEXT_CHARS:
            self.error(f"a message is 1 to {MAX_TEXT_CHARS} characters; this one has {len(text)}")
            return EXIT_USAGE
        try:
            accepted = await self.session.send_message(text, thread_id=self.thread_id)
            self.thread_id = str(accepted.get("thread_id") or self.thread_id or "") or None
            return await self.follow(str(accepted["run_id"]))
        except SessionError as exc:
            self.error(exc.message)
            return EXIT_FAILED

    async def command(self, text: str) -> _Outcome:
        """Run one slash command."""
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        try:
            if name in ("/quit", "/exit", "/q"):
                return _Outcome(quit=True)
            if name == "/help":
                self.console.print(Text(HELP))
            elif name == "/new":
                self.console.print(Text("Your next message starts a new thread.", style="dim"))
                return _Outcome(switch=True)
            elif name == "/threads":
                answer = await self.session.request({"type": "list_threads"}, "threads")
                threads = [t for t in answer.get("threads") or [] if isinstance(t, dict)]
                self.console.print(render_threads(threads))
            elif name == "/open":
                return await self.open_thread(arg)
            else:
                self.error(f"unknown command {one_line(name, 40)}. {HELP}")
        except SessionError as exc:
            self.error(exc.message)
        return _Outcome()

    async def open_thread(self, thread_id: str) -> _Outcome:
        if not thread_id:
            self.error("usage: /open THREAD_ID (see /threads)")
            return _Outcome()
        thread = await self.session.get_thread(thread_id)
        self.console.print(render_thread(thread))
        running = running_run(thread)
        if running is not None:
            self.console.print(
                Text("A run is in progress in this thread; following it.", style="dim")
            )
            await self.follow(running)
        return _Outcome(switch=True, thread_id=str(thread.get("thread_id") or thread_id))

    async def follow(self, run_id: str) -> int:
        """Follow one run to its end in a live view; Ctrl-C asks the server to cancel it,
        a second Ctrl-C stops waiting (the run goes on on the server)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        interrupts = [0]

        def on_sigint() -> None:
            interrupts[0] += 1
            if interrupts[0] == 1:
                self.notice("cancelling the run… (Ctrl-C again to stop waiting)")
                task = loop.create_task(self._send_quietly({"type": "cancel", "run_id": run_id}))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                stop.set()

        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(on_sigint)

        previous = signal.signal(signal.SIGINT, handler)
        try:
            with LiveRun(self.console) as live:
                self._live = live
                follow = asyncio.create_task(
                    self.session.follow_run(run_id, on_event=live.on_event)
                )
                stopper = asyncio.create_task(stop.wait())
                try:
                    await asyncio.wait(
                        {follow, stopper},
                        timeout=self.options.wait_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    self._live = None
                    stopper.cancel()
                    if not follow.done():
                        follow.cancel()
                        await asyncio.gather(follow, return_exceptions=True)
        finally:
            signal.signal(signal.SIGINT, previous)
        if follow.cancelled():
            if stop.is_set():
                self.error("stopped waiting; the run may go on on the server")
                return EXIT_INTERRUPTED
            self.error(f"the run did not finish within {self.options.wait_seconds:g} s")
            return EXIT_FAILED
        terminal = follow.result()  # raises the SessionError that ended it, if any
        return self.print_outcome(live.view, terminal)

    async def _send_quietly(self, frame: Frame) -> None:
        with contextlib.suppress(SessionError):  # the follow loop reconnects and reports
            await self.session.send(frame)

    def print_outcome(self, view: RunView, terminal: Frame) -> int:
        if view.response is not None and terminal.get("type") == "agent_completed":
            self.console.print(render_report(view.response))
            return EXIT_OK
        self.console.print(
            render_error(
                view.error
                or {"code": terminal.get("code", "error"), "message": terminal.get("message", "")}
            )
        )
        return EXIT_FAILED


def running_run(thread: Frame) -> str | None:
    """The thread's last run when it has not finished yet."""
    runs = [r for r in thread.get("runs") or [] if isinstance(r, dict)]
    if not runs:
        return None
    last = runs[-1]
    status = last.get("status")
    if isinstance(status, str) and status not in TERMINAL_STATUSES and last.get("run_id"):
        return str(last["run_id"])
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m apex_cli.chat``: the same as ``apex chat``."""
    parser = argparse.ArgumentParser(prog="apex chat", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
