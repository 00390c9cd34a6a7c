"""``apex analyze FILE...``: import usage files, price them, print the report or its JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, Final

from apex_core.cost import (
    FORMATS,
    BadModelMapping,
    ImportResult,
    ModelMapping,
    PriceBook,
    UsageRollup,
    accumulate,
    analyze,
    read_usage,
    render_markdown,
)
from apex_core.cost.formats.importing import DEFAULT_TRACE_START
from apex_core.errors import ApexError

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
    prices = PriceBook()
    for path in args.files:
        result = read_usage(
            path, format=args.format, model_mapping=mapping, trace_start=trace_start
        )
        try:
            _accumulate_with_progress(result, rollup, show_progress, args.jobs, prices)
        except BadModelMapping as exc:
            return _usage_error(exc.message)
    features = [name.strip() for name in args.latency_insensitive.split(",") if name.strip()]
    analysis = analyze(rollup, prices=prices, latency_insensitive_features=features)
    if args.json:
        json.dump(analysis.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_markdown(analysis))
    return 0


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
    book: PriceBook,
) -> None:
    """Accumulate ``result``, with a byte-progress bar on stderr for large files.

    End-user cells are merged per price period: the end-user breakdown costs
    the same, and a month of daily cells shrinks to a few per user.
    """
    total = result.total_bytes

    if not show or total is None or total < PROGRESS_MIN_BYTES:
        accumulate(result, rollup, threads=threads, user_periods=book.price_periods)
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
            user_periods=book.price_periods,
            on_progress=lambda done: progress.update(task, completed=done),
        )
        progress.update(task, completed=total)
