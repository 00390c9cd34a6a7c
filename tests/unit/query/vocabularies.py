"""Vocabularies the query tests parse against.

``DEMO`` is the demo dataset's names (apex_core/cost/demo.py, 30 days ending
2025-11-25, a Tuesday: data that ends mid-week); ``test_vocabulary`` checks it
against ``demo_records`` so the two cannot drift. ``REAL`` holds the names of
the vendor exports in tests/fixtures/usage (OpenAI usage API, Anthropic
console and usage report): dated snapshots, project and workspace ids.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from apex_core.query.suggestions import DataFacts
from apex_core.query.vocabulary import Vocabulary

DEMO_FIRST: Final = date(2025, 10, 27)
DEMO_LAST: Final = date(2025, 11, 25)
DEMO: Final = Vocabulary(
    providers=("openai", "anthropic", "google"),
    models=("claude-3-5-sonnet-20241022", "gpt-4o", "gpt-4o-mini", "gemini-1.5-flash"),
    features=(
        "support-chat",
        "code-review",
        "nightly-report",
        "ticket-classifier",
        "doc-search",
        "faq-bot",
    ),
    end_users=tuple(f"user-{index:02d}" for index in range(1, 41)),
    first_day=DEMO_FIRST,
    last_day=DEMO_LAST,
)
DEMO_FACTS: Final = DataFacts(
    top_model="claude-3-5-sonnet-20241022",
    top_feature="support-chat",
    top_provider="anthropic",
    spike_day=date(2025, 11, 10),
)
REAL: Final = Vocabulary(
    providers=("openai", "anthropic"),
    models=(
        "claude-3-5-sonnet-20241022",
        "gpt-4o-2024-08-06",
        "gpt-4o",
        "gpt-4o-mini-2024-07-18",
        "claude-3-5-haiku-20241022",
    ),
    features=(
        "proj_support",
        "proj_search",
        "proj_reports",
        "wrkspc_batch",
        "support-key",
        "Default",
    ),
    end_users=("user_abc",),
    first_day=date(2025, 3, 1),
    last_day=date(2025, 3, 31),
    catalog_models=("gpt-4.1-mini", "claude-3-5-haiku-latest", "gemini-2.0-flash"),
)
