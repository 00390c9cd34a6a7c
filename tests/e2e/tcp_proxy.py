"""A TCP proxy on loopback that the fault tests put between a product process and an emulator.

The product processes are pointed at the proxy (``PUBSUB_EMULATOR_HOST``,
``FIRESTORE_EMULATOR_HOST``); the test then breaks the path for real:

* :meth:`TcpProxy.pause` — what a SIGSTOPped emulator looks like from outside:
  connections are accepted, bytes are held, nothing answers; :meth:`restore`
  lets the held bytes through, as a SIGCONT would;
* :meth:`TcpProxy.drop` — every open connection is reset and new ones are reset
  at once (an emulator that went away);
* :meth:`TcpProxy.slow_down` — every chunk a client sends reaches the emulator
  ``seconds`` later (a slow backend: each call takes that much longer).

The proxy runs its own asyncio loop in a daemon thread, so sync tests and
``asyncio.run`` test bodies can both drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Mode = Literal["flowing", "paused", "dropping"]
CHUNK = 65536


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` (``host:port``) until told otherwise."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._mode: Mode = "flowing"
        self._delay = 0.0
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    # ------------------------------------------------------------ faults

    def pause(self) -> None:
        """Hold every byte in both directions; connections stay open (SIGSTOP)."""
        self._call(self._set_mode("paused"))

    def drop(self) -> None:
        """Reset every open connection and every new one."""
        self._call(self._set_mode("dropping"))

    def restore(self) -> None:
        """Forward again (held bytes first) with no added delay."""
        self._delay = 0.0
        self._call(self._set_mode("flowing"))

    def slow_down(self, seconds: float) -> None:
        """Delay every chunk sent towards the target by ``seconds``."""
        self._delay = seconds

    # ------------------------------------------------------------ loop side

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _set_mode(self, mode: Mode) -> None:
        assert self._flowing is not None
        self._mode = mode
        if mode == "flowing":
            self._flowing.set()
            return
        self._flowing.clear()
        if mode == "dropping":
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._mode == "dropping":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, delayed=True),
                self._pipe(up_reader, writer, delayed=False),
            )
        finally:
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        """Copy until EOF; chunks keep their order, each waits for its own due time."""
        assert self._flowing is not None
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                assert self._flowing is not None
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(CHUNK)
                delay = self._delay if delayed else 0.0
                queue.put_nowait((time.monotonic() + delay, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await sender
            writer.transport.abort()
