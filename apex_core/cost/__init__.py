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

The stages are subpackages; imports flow one way (checked by ``lint-imports``):

* :mod:`~apex_core.cost.model` — records, named cells, the roll-up;
* :mod:`~apex_core.cost.formats` — the format registry (detection + readers) and ``read_usage``;
* :mod:`~apex_core.cost.columnar` — canonical tables, native CSV blocks, sums, repeat detectors;
* :mod:`~apex_core.cost.engine` — ``accumulate``: any import through the columnar sums;
* :mod:`~apex_core.cost.pricing` — genai-prices rate cards;
* :mod:`~apex_core.cost.analysis` — breakdowns, recommendations, the Markdown report.
"""

from __future__ import annotations

from apex_core.cost.analysis.analyze import Analysis, analyze
from apex_core.cost.analysis.recommendations import Recommendation
from apex_core.cost.analysis.report import render_markdown
from apex_core.cost.engine import accumulate
from apex_core.cost.errors import BadModelMapping, BadRollup, UnknownUsageFormat
from apex_core.cost.formats.demo import demo_records
from apex_core.cost.formats.importing import ImportResult, read_usage
from apex_core.cost.formats.mapping import BilledModel, ModelMapping
from apex_core.cost.formats.registry import FORMATS
from apex_core.cost.model.cells import FeatureCell, FeatureKey, PeriodKey, Usage, UserCell, UserKey
from apex_core.cost.model.records import ImportStats, Rejection, UsageRecord
from apex_core.cost.model.rollup import UsageRollup
from apex_core.cost.pricing.book import PriceBook

__all__ = [
    "FORMATS",
    "Analysis",
    "BadModelMapping",
    "BadRollup",
    "BilledModel",
    "FeatureCell",
    "FeatureKey",
    "ImportResult",
    "ImportStats",
    "ModelMapping",
    "PeriodKey",
    "PriceBook",
    "Recommendation",
    "Rejection",
    "UnknownUsageFormat",
    "Usage",
    "UsageRecord",
    "UsageRollup",
    "UserCell",
    "UserKey",
    "accumulate",
    "analyze",
    "demo_records",
    "read_usage",
    "render_markdown",
]
