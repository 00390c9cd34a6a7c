"""``python -m emulators``: run the local platform.

Commands:
  dev                 emulators + functions + edge on the design ports, in the foreground
  emulators           only the two emulators on the design ports, in the foreground
  exec -- CMD [ARG…]  emulators on free ports, CMD run with their hosts in its
                      environment, everything stopped afterwards; exits with CMD's code

With ``dev``, a function or the edge that dies is restarted after a short
backoff and its exit status is logged (:mod:`emulators.supervision`), as Cloud
Run replaces a crashed instance; an emulator that dies stops everything.
Ctrl-C or SIGTERM stops every process that was started, last started first.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from apex_core import names
from emulators.emulator import start_emulators
from emulators.errors import LauncherError
from emulators.processes import ProcessGroup, free_port
from emulators.stack import REPO_ROOT, STACK_PROCESSES, start_stack
from emulators.supervision import Supervisor, describe_exit

HOST = "127.0.0.1"
LOG_DIR = REPO_ROOT / ".cache" / "logs"


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def dev_secret(name: str) -> str:
    """``name`` (``JWT_SECRET``, ``DEMO_SESSION_SECRET``) from the environment, else a
    random one kept in ``.cache/dev-<name>`` (mode 600) so that tokens survive a
    restart of ``scripts/dev``; each variable gets a key of its own."""
    if os.environ.get(name):
        return os.environ[name]
    path = REPO_ROOT / ".cache" / f"dev-{name.lower().replace('_', '-')}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def dev_app_env() -> dict[str, str]:
    """The local stack's settings on top of this environment: demo mode asked for
    explicitly (it is off unless asked for), and the two signing keys."""
    return {
        "DEMO_MODE": "1",
        **os.environ,
        "JWT_SECRET": dev_secret("JWT_SECRET"),
        "DEMO_SESSION_SECRET": dev_secret("DEMO_SESSION_SECRET"),
    }


def _wait_until_stopped(group: ProcessGroup, stop: threading.Event) -> int:
    """Restart the stack's processes when they die until ``stop``; 1 if an emulator died."""
    gone = Supervisor(group, supervised=STACK_PROCESSES).run(stop)
    for child in gone:
        print(
            f"{child.name} {describe_exit(child.popen.returncode)}; stopping everything. "
            f"Last output:\n{child.tail()}",
            file=sys.stderr,
        )
    return 1 if gone else 0


def run_dev(*, with_stack: bool) -> int:
    stop = threading.Event()
    _stop_on_signals(stop)
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", names.DEFAULT_PROJECT)
    with ProcessGroup(log_dir=LOG_DIR) as group:
        hosts = start_emulators(
            group,
            host=HOST,
            pubsub_port=names.PUBSUB_EMULATOR_PORT,
            firestore_port=names.FIRESTORE_EMULATOR_PORT,
        )
        os.environ.update(hosts.env(project))
        print(f"Pub/Sub emulator   {hosts.pubsub}\nFirestore emulator {hosts.firestore}")
        if with_stack:
            env = dev_app_env()
            stack = start_stack(group, project=project, env=env, host=HOST)
            print(
                f"Edge               {stack.http_url}  (chat page)\n"
                f"WebSocket          {stack.ws_url}\n"
                f"Usage upload       {stack.ingest_url}\n"
                f"Logs               {LOG_DIR}\n"
                "Ready. Ctrl-C stops everything.",
                flush=True,
            )
        code = _wait_until_stopped(group, stop)
        print("Stopping …", flush=True)
    return code


def run_exec(command: list[str]) -> int:
    if not command:
        raise LauncherError("exec needs a command after '--', e.g. 'exec -- pytest'")
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", names.DEFAULT_PROJECT)
    log_dir = Path(os.environ.get("APEX_LOG_DIR", LOG_DIR / "exec"))
    with ProcessGroup(log_dir=log_dir) as group:
        hosts = start_emulators(
            group, host=HOST, pubsub_port=free_port(), firestore_port=free_port()
        )
        env = {**os.environ, **hosts.env(project), "APEX_LOG_DIR": str(log_dir)}
        return subprocess.call(command, env=env)  # noqa: S603 - the caller's own command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulators",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="emulators, functions and edge in the foreground")
    sub.add_parser("emulators", help="only the emulators, in the foreground")
    exec_parser = sub.add_parser("exec", help="run a command with emulators on free ports")
    exec_parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.command == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            return run_exec(cmd)
        return run_dev(with_stack=args.command == "dev")
    except LauncherError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
