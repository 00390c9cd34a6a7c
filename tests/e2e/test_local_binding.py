"""The local stack listens on loopback only (docs/SECURITY.md, "Local functions").

Locally ``run_agent`` and the dead-letter handler accept any POST (the Pub/Sub
emulator's push sends no OIDC token), so they must not be reachable from other
machines: every process of the stack listens on 127.0.0.1 and nowhere else. The
kernel's own table of listening sockets (``/proc/net/tcp``, ``tcp6``) says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunningStack

pytestmark = pytest.mark.emulators

LISTEN = "0A"
LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian hex as /proc/net/tcp writes it


def listening_addresses(port: int) -> set[str]:
    """Every local address (hex, as the kernel writes it) with a socket listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == LISTEN:
                found.add(address)
    return found


def test_every_local_process_listens_on_loopback_only(stack: RunningStack) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.fail("this test reads /proc/net/tcp: run it on Linux (scripts/test does)")
    ports = stack.stack.ports
    for name, port in (
        ("run_agent", ports.run_agent),
        ("dead letters", ports.dead_letter),
        ("ingest_usage", ports.ingest_usage),
        ("edge", ports.edge),
    ):
        addresses = listening_addresses(port)
        assert addresses, f"nothing listens on the {name} port {port}"
        assert addresses == {LOOPBACK_V4}, f"{name} listens on {addresses}, not only 127.0.0.1"
