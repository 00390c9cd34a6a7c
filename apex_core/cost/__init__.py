"""The cost engine: import LLM usage, roll it up, price it, recommend cheaper ways to run it.

No network I/O and no storage here; the CLI and the functions are thin adapters.

Two stages, so stored data stays small and mergeable (Firestore docs < 1 MiB):

1. **accumulate** — ``read_usage`` streams any supported file or upload into
   :class:`UsageRecord` s (rejected rows are counted with file, line and
   reason in ``result.stats``); ``accumulate`` folds them into a
   :class:`UsageRollup`, which merges (``merge``), serializes
   (``to_json``/``from_json``) and splits into chunks under 1 MiB
   (``to_chunks``/``from_chunks``)::

       result = read_usage(upload_bytes, source_name="usage.csv")        # format="auto"
       rollup = accumulate(result)                                      # counts rows too
       documents = rollup.to_chunks()                                   # list[dict], each < 512 KiB

2. **analyze** — price the roll-up with genai-prices and build the report::

       merged = UsageRollup.from_chunks(documents)    # or UsageRollup().merge(a).merge(b)
       analysis = analyze(merged)
       payload = analysis.to_json()                   # the `apex analyze --json` object
       markdown = render_markdown(analysis)

``demo_records(seed, now=...)`` generates a deterministic month of usage that
exercises every recommendation. Formats: docs/USAGE_FORMATS.md; pricing and
what-if rules: docs/COST_ENGINE.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apex_core.cost.analysis import Analysis, analyze
    from apex_core.cost.demo import demo_records
    from apex_core.cost.engine import accumulate
    from apex_core.cost.errors import BadModelMapping, BadRollup, UnknownUsageFormat
    from apex_core.cost.importing import FORMATS, ImportResult, read_usage
    from apex_core.cost.mapping import BilledModel, ModelMapping
    from apex_core.cost.pricing import PriceBook
    from apex_core.cost.recommendations import Recommendation
    from apex_core.cost.records import ImportStats, Rejection, UsageRecord
    from apex_core.cost.report import render_markdown
    from apex_core.cost.rollup import UsageRollup

_HOMES = {
    "Analysis": "analysis",
    "analyze": "analysis",
    "demo_records": "demo",
    "BadModelMapping": "errors",
    "BadRollup": "errors",
    "UnknownUsageFormat": "errors",
    "FORMATS": "importing",
    "ImportResult": "importing",
    "ImportStats": "records",
    "read_usage": "importing",
    "BilledModel": "mapping",
    "ModelMapping": "mapping",
    "PriceBook": "pricing",
    "Recommendation": "recommendations",
    "Rejection": "records",
    "UsageRecord": "records",
    "render_markdown": "report",
    "UsageRollup": "rollup",
    "accumulate": "engine",
}
"""Where each public name lives. Imported on first use (PEP 562): reading a file
need not load genai-prices, so ``apex analyze`` can read while prices load."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'apex_core.cost' has no attribute {name!r}")
    return getattr(import_module(f"apex_core.cost.{home}"), name)


__all__ = [
    "FORMATS",
    "Analysis",
    "BadModelMapping",
    "BadRollup",
    "BilledModel",
    "ImportResult",
    "ImportStats",
    "ModelMapping",
    "PriceBook",
    "Recommendation",
    "Rejection",
    "UnknownUsageFormat",
    "UsageRecord",
    "UsageRollup",
    "accumulate",
    "analyze",
    "demo_records",
    "read_usage",
    "render_markdown",
]
