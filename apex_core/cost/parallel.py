"""Accumulate one large native CSV file on several cores: a byte range and a roll-up per core.

The file is cut at line boundaries into ``jobs`` ranges; each forked worker
streams its range (with the header prepended) through the ordinary native
reader into its own :class:`UsageRollup`, and the parent merges them. Line
numbers of rejections stay exact (each worker knows how many lines precede
its range). Repeat detection (duplicates, prompt-cache prefixes) runs per
range, so repeats whose first occurrence is in an earlier range are not
seen; docs/COST_ENGINE.md says so.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any, Final

from apex_core.cost.importing import read_usage
from apex_core.cost.rollup import UsageRollup, accumulate
from apex_core.errors import ImportFailed

PARALLEL_MIN_BYTES: Final = 32 * 1024 * 1024
_COUNT_CHUNK: Final = 1 << 20


class _RangeStream(io.RawIOBase):
    """``header`` followed by bytes ``[start, end)`` of a file, as a raw binary stream."""

    def __init__(self, path: str, header: bytes, start: int, end: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._file.seek(start)
        self._pending = header
        self._remaining = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pending:
            size = min(len(view), len(self._pending))
            view[:size] = self._pending[:size]
            self._pending = self._pending[size:]
            return size
        if self._remaining <= 0:
            return 0
        size = self._file.readinto(view[: min(len(view), self._remaining)])
        self._remaining -= size
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def line_ranges(path: str, jobs: int) -> tuple[bytes, list[tuple[int, int, int]]]:
    """The header line and ``(start, end, lines_before_start)`` of up to ``jobs`` ranges."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header = handle.readline()
        cuts = [len(header)]
        for part in range(1, jobs):
            handle.seek(max(size * part // jobs, cuts[-1]))
            handle.readline()
            if handle.tell() > cuts[-1] and handle.tell() < size:
                cuts.append(handle.tell())
        cuts.append(size)
        handle.seek(0)
        lines_before = []
        position = 0
        count = 0
        for cut in cuts[:-1]:
            while position < cut:
                chunk = handle.read(min(_COUNT_CHUNK, cut - position))
                count += chunk.count(b"\n")
                position += len(chunk)
            lines_before.append(count)
    return header, [(cuts[i], cuts[i + 1], lines_before[i]) for i in range(len(cuts) - 1)]


def _worker(
    path: str, header: bytes, span: tuple[int, int, int], done: Synchronized[int], out: Connection
) -> None:
    start, end, lines_before = span
    try:
        stream = io.BufferedReader(_RangeStream(path, header, start, end), buffer_size=1 << 20)
        result = read_usage(stream, format="native", source_name=path, line_offset=lines_before - 1)
        reported = 0

        def report(bytes_read: int) -> None:
            nonlocal reported
            position = min(bytes_read - len(header), end - start)
            with done.get_lock():
                done.value += position - reported
            reported = position

        rollup = accumulate(result, on_progress=report)
        with done.get_lock():
            done.value += (end - start) - reported
        # Plain dicts pickle fast; the parent trusts its own workers' counters.
        out.send(("ok", (rollup.cells, rollup.user_cells, rollup.first_seen, rollup.last_seen,
                         rollup.daily_buckets, rollup.rows, rollup.notes)))  # fmt: skip
    except Exception as exc:  # reported to the parent, which raises it there
        out.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


def accumulate_native_csv(
    path: str, *, jobs: int, on_progress: Callable[[int], None] | None = None
) -> UsageRollup:
    """Accumulate a native CSV file with ``jobs`` forked workers; merge in file order."""
    header, spans = line_ranges(path, jobs)
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0)
    workers = []
    for span in spans:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(path, header, span, done, send))
        process.start()
        send.close()
        workers.append((process, receive))
    answers = []
    for process, receive in workers:
        while not receive.poll(0.2):
            if on_progress is not None:
                on_progress(done.value)
            if not process.is_alive() and not receive.poll(0):
                raise ImportFailed(
                    f"{path}: a worker stopped (exit {process.exitcode}) without a result"
                )
        answers.append(receive.recv())
        process.join()
    merged = UsageRollup()
    for status, payload in answers:
        if status != "ok":
            raise ImportFailed(f"{path}: {payload}")
        cells, user_cells, first, last, daily, rows, notes = payload
        part = UsageRollup(cells=cells, user_cells=user_cells, first_seen=first, last_seen=last,
                           daily_buckets=daily, rows=rows, notes=notes)  # fmt: skip
        merged.merge(part)
    if len(spans) > 1:
        merged.notes.append(
            f"{path}: read on {len(spans)} cores; duplicates and repeated prefixes are detected "
            "within each part of the file"
        )
    return merged
