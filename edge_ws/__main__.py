"""``python -m edge_ws``: run the edge until SIGTERM or SIGINT.

Settings come from the environment (:mod:`edge_ws.settings`). Exit codes: 0
after a clean shutdown, 1 when the instance could not become ready, 2 for a
setting it cannot use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from apex_core.errors import ApexError
from apex_core.logs import configure_logging
from edge_ws.server import serve_until_stopped
from edge_ws.settings import EdgeSettings

log = logging.getLogger("edge_ws")


async def _run(settings: EdgeSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve_until_stopped(settings, stop)


def main() -> int:
    configure_logging("edge")
    try:
        settings = EdgeSettings.from_env(os.environ)
    except ApexError as exc:
        log.error("the edge cannot start: %s", exc.message)
        return 2
    try:
        asyncio.run(_run(settings))
    except ApexError as exc:
        log.error("the edge could not become ready: %s", exc.message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
