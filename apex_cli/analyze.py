"""``apex analyze FILE...``: import usage files, price them, print the report or its JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, Final

from apex_core.cost.cells import PeriodKey
from apex_core.cost.engine import accumulate
from apex_core.cost.errors import BadModelMapping
from apex_core.cost.importing import DEFAULT_TRACE_START, FORMATS, ImportResult, read_usage
from apex_core.cost.mapping import ModelMapping
from apex_core.cost.rollup import UsageRollup
from apex_core.errors import ApexError

if TYPE_CHECKING:
    from apex_core.cost.pricing import PriceBook

PROGRESS_MIN_BYTES: Final = 8 * 1024 * 1024
EXIT_USAGE: Final = 2


def register(subparsers: Any) -> None:
    """Add the ``analyze`` subcommand to the ``apex`` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "analyze",
        help="analyse usage files: costs, breakdowns and savings",
        description="Import usage exports or traces, price them with genai-prices and "
        "recommend changes with monthly dollar savings.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="usage file(s) to analyse")
    parser.add_argument(
        "--format", choices=FORMATS, default="auto", help="input format (default: auto)"
    )
    parser.add_argument(
        "--model",
        metavar="MAPPING",
        help="model to price traces at: 'openai:gpt-4o-mini' or 'ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4'",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of markdown"
    )
    parser.add_argument(
        "--trace-start",
        metavar="ISO8601",
        default=DEFAULT_TRACE_START.isoformat(),
        help="where relative trace clocks start (default: %(default)s)",
    )
    parser.add_argument(
        "--latency-insensitive",
        metavar="FEATURES",
        default="",
        help="comma-separated features that can wait for batch processing",
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        metavar="N",
        help="threads to read native CSV files with (default: all available cores, %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``apex analyze``; returns the exit code."""
    try:
        mapping = ModelMapping.parse(args.model) if args.model else None
        trace_start = datetime.fromisoformat(args.trace_start)
    except ValueError:
        return _usage_error(f"--trace-start: expected an ISO 8601 time, got {args.trace_start!r}")
    except ApexError as exc:
        return _usage_error(f"--model: {exc.message}")
    if trace_start.tzinfo is None:
        trace_start = trace_start.replace(tzinfo=UTC)
    for path in args.files:
        problem = _unreadable(path)
        if problem:
            return _usage_error(problem)
    if args.jobs < 1:
        return _usage_error(f"--jobs: expected a number of cores >= 1, got {args.jobs}")
    rollup = UsageRollup()
    show_progress = not args.no_progress and sys.stderr.isatty()
    # genai-prices and the analysis load on their own thread while the files are read.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="apex-prices") as loader:
        book = loader.submit(_load_price_book)
        for path in args.files:
            result = read_usage(
                path, format=args.format, model_mapping=mapping, trace_start=trace_start
            )
            try:
                _accumulate_with_progress(result, rollup, show_progress, args.jobs, book)
            except BadModelMapping as exc:
                return _usage_error(exc.message)
        prices = book.result()
    # Loaded by now, on the loader's thread: these imports only bind the names.
    from apex_core.cost.analysis import analyze  # noqa: PLC0415
    from apex_core.cost.report import render_markdown  # noqa: PLC0415

    features = [name.strip() for name in args.latency_insensitive.split(",") if name.strip()]
    analysis = analyze(rollup, prices=prices, latency_insensitive_features=features)
    if args.json:
        json.dump(analysis.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_markdown(analysis))
    return 0


def _load_price_book() -> PriceBook:
    """Import the pricing and analysis modules (genai-prices' table), then a price book."""
    import_module("apex_core.cost.analysis")
    import_module("apex_core.cost.report")
    book: PriceBook = import_module("apex_core.cost.pricing").PriceBook()
    return book


def _usage_error(message: str) -> int:
    print(f"apex analyze: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _unreadable(path: str) -> str | None:
    if not os.path.exists(path):
        return f"{path}: no such file; expected a usage file (see docs/USAGE_FORMATS.md)"
    if os.path.isdir(path):
        return f"{path}: is a directory; expected a usage file"
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror}); check its permissions"
    return None


def _accumulate_with_progress(
    result: ImportResult,
    rollup: UsageRollup,
    show: bool,
    threads: int,
    book: Future[PriceBook],
) -> None:
    """Accumulate ``result``, with a byte-progress bar on stderr for large files.

    End-user cells are merged per price period: the end-user breakdown costs
    the same, and a month of daily cells shrinks to a few per user.
    """
    total = result.total_bytes

    def periods(keys: Iterable[PeriodKey]) -> dict[PeriodKey, str]:
        return book.result().price_periods(keys)

    if not show or total is None or total < PROGRESS_MIN_BYTES:
        accumulate(result, rollup, threads=threads, user_periods=periods)
        return
    from rich.console import Console  # noqa: PLC0415 - 0.2 s of imports, only for a terminal
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
    )  # fmt: skip

    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    # On stderr, which is the terminal: stdout may be the report's pipe.
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(result.source, total=total)
        accumulate(
            result,
            rollup,
            threads=threads,
            user_periods=periods,
            on_progress=lambda done: progress.update(task, completed=done),
        )
        progress.update(task, completed=total)
