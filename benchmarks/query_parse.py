"""How long the deterministic parser takes to turn a message into a query.

``.venv/bin/python -m benchmarks.query_parse [--rounds N]``: parses every
message of the phrasing table (tests/unit/query) ``--rounds`` times against the
demo vocabulary and against one at the roll-up's caps (2,000 end users, 500
features), plus the longest message the parser reads (80 words) against the
large one, and prints a Markdown table with p50 / p99 / max (nearest rank) and
the time to build each vocabulary's name index.
"""

from __future__ import annotations

import argparse
import math
import random
import time

from apex_core.query.parser import MAX_MESSAGE_WORDS, parse
from apex_core.query.vocabulary import Vocabulary
from tests.unit.query.test_phrasings import STANDALONE
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(math.ceil(share * len(sorted_values)) - 1, 0)]


def large_vocabulary() -> Vocabulary:
    return Vocabulary(
        providers=DEMO.providers,
        models=DEMO.models + tuple(f"ft:gpt-4o-mini:team-{i:02d}" for i in range(60)),
        features=DEMO.features + tuple(f"feature-{i:03d}" for i in range(494)),
        end_users=tuple(f"customer_{i:05d}" for i in range(2000)),
        first_day=DEMO.first_day,
        last_day=DEMO.last_day,
    )


def timed(texts: list[str], vocabulary: Vocabulary, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            parse(text, vocabulary, facts=DEMO_FACTS)
            samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    start = time.perf_counter()
    large = large_vocabulary()
    build_ms = (time.perf_counter() - start) * 1000
    rng = random.Random(7)  # noqa: S311 - reproducible sample messages, not secrets
    words = [w for text, _ in STANDALONE for w in text.split()] + ["lorem", "ipsum", "zebra"]
    longest = [" ".join(rng.choice(words) for _ in range(MAX_MESSAGE_WORDS)) for _ in range(10)]
    texts = [text for text, _ in STANDALONE]
    rows = [
        ("phrasing table, demo names", timed(texts, DEMO, rounds)),
        ("phrasing table, 2,000 users + 500 features", timed(texts, large, rounds)),
        (
            f"{MAX_MESSAGE_WORDS}-word messages, 2,000 users + 500 features",
            timed(longest, large, rounds),
        ),
    ]
    print(f"name index of the large vocabulary: built in {build_ms:.0f} ms\n")
    print("| messages | parses | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, samples in rows:
        print(
            f"| {name} | {len(samples)} | {percentile(samples, 0.5):.2f} | "
            f"{percentile(samples, 0.99):.2f} | {samples[-1]:.2f} |"
        )


if __name__ == "__main__":
    main()
