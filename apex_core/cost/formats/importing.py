"""``read_usage``: open a usage file or upload, recognise its format, stream its records.

The result is an iterable of :class:`UsageRecord`; rejected rows are counted
(with file, line and reason) and empty buckets (rows of a bucketed export that
report no usage) are counted in ``result.stats`` while it is iterated, so an
import never drops a row without saying so. Works on paths (the CLI) and on
bytes or binary streams (an uploaded file in the ingest function).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

from apex_core.cost.errors import UnknownUsageFormat
from apex_core.cost.formats.context import ImportContext, RowStream
from apex_core.cost.formats.mapping import ModelMapping
from apex_core.cost.formats.registry import FORMATS, detect_format, reader_for
from apex_core.cost.model.records import EmptyBucket, ImportStats, UsageRecord
from apex_core.errors import ImportFailed

DEFAULT_TRACE_START: Final = datetime(2025, 1, 1, tzinfo=UTC)
"""Where relative trace clocks (Mooncake ms, BurstGPT seconds) start unless told otherwise."""
_HEAD_BYTES: Final = 65536

UsageInput = str | os.PathLike[str] | bytes | BinaryIO
"""What ``read_usage`` reads: a path, the bytes of an upload, or a binary stream."""


class ImportResult:
    """A streaming import: iterate once for the records; ``stats`` fills in as you go."""

    def __init__(
        self,
        *,
        source: str,
        format: str,
        rows: RowStream,
        context: ImportContext,
        binary: BinaryIO,
        text: io.TextIOWrapper,
        total_bytes: int | None,
        native_csv: bool = False,
    ) -> None:
        self.source = source
        self.format = format
        self.stats = ImportStats()
        self.context = context
        self.total_bytes = total_bytes
        self._rows: RowStream | None = rows
        self._binary = binary
        self._text = text
        self.native_csv = native_csv
        """True for native CSV, which :func:`accumulate` reads in blocks with Arrow."""

    @property
    def notes(self) -> list[str]:
        """Things the user must know about this import (e.g. the model a trace is priced at)."""
        return self.context.notes

    def bytes_read(self) -> int:
        """How far into the input the reader is (for progress bars)."""
        try:
            return self._binary.tell()
        except (OSError, ValueError):
            return 0

    def take_binary(self) -> tuple[BinaryIO, ImportContext]:
        """The raw bytes (at the start, BOM included) and context; consumes the result."""
        if self._rows is None:
            raise ImportFailed(f"{self.source}: an import can be iterated only once")
        self._rows = None
        return self._binary, self.context

    def close(self) -> None:
        """Close the input without reading the rest (iteration closes it by itself)."""
        self._rows = None
        self._text.close()

    def __enter__(self) -> ImportResult:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[UsageRecord]:
        rows = self._rows
        if rows is None:
            raise ImportFailed(f"{self.source}: an import can be iterated only once")
        self._rows = None
        stats = self.stats
        try:
            for item in rows:
                stats.read += 1
                if type(item) is UsageRecord:
                    stats.imported += 1
                    yield item
                elif type(item) is EmptyBucket:
                    stats.empty_buckets += 1
                else:
                    stats.add_rejection(item)  # type: ignore[arg-type]
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                f"{self.source}: not UTF-8 text after row {stats.read} ({exc.reason}); "
                "export the file as UTF-8 and import it again"
            ) from exc
        finally:
            self._text.close()


def read_usage(
    source: UsageInput,
    *,
    format: str = "auto",
    model_mapping: ModelMapping | str | None = None,
    source_name: str | None = None,
    trace_start: datetime = DEFAULT_TRACE_START,
    line_offset: int = 0,
) -> ImportResult:
    """Open ``source`` (a path, bytes or a binary stream), recognise its format, stream it.

    ``format`` is one of :data:`FORMATS`. ``model_mapping`` prices traces that
    name no billed model. ``source_name`` labels rejections (defaults to the
    path). Raises :class:`ImportFailed` (unreadable),
    :class:`UnknownUsageFormat` or :class:`BadModelMapping` before any row is read.
    """
    if format not in FORMATS:
        raise UnknownUsageFormat(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    mapping = ModelMapping.parse(model_mapping) if isinstance(model_mapping, str) else model_mapping
    binary, name, total = _open_binary(source, source_name)
    text: io.TextIOWrapper | None = None
    try:
        head = _peek(binary)
        chosen = detect_format(head, name) if format == "auto" else format
        context = ImportContext(
            source=name, model_mapping=mapping, trace_start=trace_start, line_offset=line_offset
        )
        reader = reader_for(chosen)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        rows = reader(text, context, head.decode("utf-8-sig", errors="replace"))
        return ImportResult(
            source=name,
            format=chosen,
            rows=rows,
            context=context,
            binary=binary,
            text=text,
            total_bytes=total,
            native_csv=chosen == "native" and not head.lstrip().startswith(b"{"),
        )
    except BaseException:
        (text or binary).close()
        raise


def _open_binary(source: UsageInput, source_name: str | None) -> tuple[BinaryIO, str, int | None]:
    if isinstance(source, bytes):
        return io.BytesIO(source), source_name or "<upload>", len(source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            handle = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by ImportResult
            size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            raise ImportFailed(
                f"cannot read usage file {str(path)!r}: {exc.strerror or exc}; "
                "check the path and that the file is readable"
            ) from exc
        if path.is_dir():
            handle.close()
            raise ImportFailed(f"{str(path)!r} is a directory; expected a usage file")
        return handle, source_name or str(path), size
    return source, source_name or str(getattr(source, "name", None) or "<stream>"), None


def _peek(binary: BinaryIO) -> bytes:
    peek = getattr(binary, "peek", None)
    if callable(peek):
        return bytes(peek(_HEAD_BYTES))[:_HEAD_BYTES]
    if binary.seekable():
        position = binary.tell()
        head = binary.read(_HEAD_BYTES)
        binary.seek(position)
        return head
    raise ImportFailed("the usage stream is neither peekable nor seekable; pass bytes or a file")
