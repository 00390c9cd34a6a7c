"""A local OpenAI-compatible endpoint that replays one recorded answer per request.

Real sockets on 127.0.0.1, port 0; the test sets what the next answer is (a
transcript's response, an HTTP error, or holding the answer until released, to
make the client time out) and reads back every request it received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_LIMIT_SECONDS = 30.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ReplayState:
    status: int = 200
    answer: bytes = b"{}"
    hold: bool = False
    released: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)

    def answer_json(self, data: object, status: int = 200) -> None:
        self.status, self.answer = status, json.dumps(data).encode()


def _handler(state: ReplayState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            if state.hold:
                state.released.wait(HOLD_LIMIT_SECONDS)
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test): nothing to answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def replay_server() -> Iterator[tuple[str, ReplayState]]:
    """``(base_url, state)`` of a server running until the block ends."""
    state = ReplayState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
