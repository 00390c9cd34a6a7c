"""Matching the user's own names: case, spacing, punctuation, snapshots, variants, typos."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from apex_core.cost.formats.demo import demo_records
from apex_core.query.name_index import match_phrase, snapshot_base
from apex_core.query.text import name_key, tokenize
from apex_core.query.vocabulary import Vocabulary, find_names
from tests.unit.query.vocabularies import DEMO, DEMO_FIRST, DEMO_LAST, REAL


def test_demo_vocabulary_is_the_demo_datasets_names() -> None:
    records = list(demo_records("demo", now=datetime(2025, 11, 26, tzinfo=UTC)))
    assert set(DEMO.providers) == {r.provider for r in records}
    assert set(DEMO.models) == {r.model for r in records}
    assert set(DEMO.features) == {r.feature for r in records}
    assert set(DEMO.end_users) == {r.end_user for r in records}
    assert (records[0].timestamp.date(), records[-1].timestamp.date()) == (DEMO_FIRST, DEMO_LAST)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4-0613", "gpt-4"),
        ("gemini-1.5-flash-002", "gemini-1.5-flash"),
        ("chatgpt-4o-latest", "chatgpt-4o"),
        ("claude-3-5-sonnet@20241022", "claude-3-5-sonnet"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-3-5-sonnet"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("o1", "o1"),
    ],
)
def test_snapshot_suffixes(name: str, base: str) -> None:
    assert snapshot_base(name) == base


def test_name_keys_ignore_case_spacing_punctuation_and_leading_zeros() -> None:
    assert name_key("GPT-4o") == name_key("gpt4o") == name_key("gpt 4o") == "gpt4o"
    assert name_key("user-01") == name_key("User 1") == "user1"
    assert name_key("claude-3.5") == name_key("claude 3 5")


@pytest.mark.parametrize(
    ("phrase", "values", "quality"),
    [
        ("gpt-4o", ("gpt-4o",), "exact"),
        ("GPT4O", ("gpt-4o",), "exact"),
        ("gpt 4o mini", ("gpt-4o-mini",), "exact"),
        ("claude-3-5-sonnet", ("claude-3-5-sonnet-20241022",), "snapshot"),
        ("claude 3.5 sonnet", ("claude-3-5-sonnet-20241022",), "snapshot"),
        ("claude sonnet", ("claude-3-5-sonnet-20241022",), "partial"),
        ("sonnet", ("claude-3-5-sonnet-20241022",), "partial"),
        ("gemini flash", ("gemini-1.5-flash",), "partial"),
        ("gemini", ("gemini-1.5-flash",), "partial"),
    ],
)
def test_demo_models(phrase: str, values: tuple[str, ...], quality: str) -> None:
    assert match_phrase(phrase, DEMO.models) == (values, quality)


def test_a_version_never_matches_a_variant_it_did_not_name() -> None:
    only_mini = ("gpt-4o-mini", "claude-3-5-sonnet-20241022")
    assert match_phrase("gpt-4o", only_mini) is None
    assert match_phrase("gpt-4.1-mini", DEMO.models) is None  # no typo tolerance for versions
    assert match_phrase("claude haiku", DEMO.models) is None


def test_every_snapshot_of_a_model_answers_to_its_name() -> None:
    assert match_phrase("gpt-4o", REAL.models) == (("gpt-4o-2024-08-06", "gpt-4o"), "exact")
    assert match_phrase("claude", REAL.models) == (
        ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"),
        "partial",
    )


def test_typos_of_long_names_match_by_similarity() -> None:
    assert match_phrase("suport-chat", DEMO.features) == (("support-chat",), "fuzzy")
    assert match_phrase("ticket-clasifier", DEMO.features) == (("ticket-classifier",), "fuzzy")
    assert match_phrase("suport-chat", DEMO.features, fuzzy=False) is None
    assert match_phrase("weather", DEMO.features) is None


def test_find_names_prefers_the_longest_phrase_and_reports_token_spans() -> None:
    tokens = tokenize("spend of gpt 4o mini and Support Chat for user 7")
    found = find_names(tokens, DEMO)
    assert [(m.dimension, m.values, m.phrase) for m in found] == [
        ("model", ("gpt-4o-mini",), "gpt 4o mini"),
        ("feature", ("support-chat",), "Support Chat"),
        ("end_user", ("user-07",), "user 7"),
    ]
    assert (found[0].start, found[0].end) == (2, 5)


def test_the_parsers_own_words_are_not_partial_names() -> None:
    tokens = tokenize("give me a report")
    known = frozenset({3})
    assert find_names(tokens, DEMO, known=known) == ()
    assert find_names(tokenize("nightly report"), DEMO, known=frozenset({1}))[0].values == (
        "nightly-report",
    )


def test_ambiguity_across_dimensions_is_resolved_by_dimension_order_and_reported() -> None:
    vocabulary = Vocabulary(providers=("mistral",), models=("mistral",), features=("mistral",))
    (match,) = find_names(tokenize("mistral spend"), vocabulary)
    assert match.dimension == "provider"
    assert match.alternatives == ("mistral", "mistral")


def test_ties_within_a_dimension_keep_the_vocabulary_order() -> None:
    vocabulary = Vocabulary(features=("support-chat-eu", "support-chat-us"))
    assert match_phrase("support chat", vocabulary.features) == (
        ("support-chat-eu", "support-chat-us"),
        "partial",
    )


def test_vocabulary_invariants() -> None:
    with pytest.raises(ValueError, match="both first_day and last_day"):
        Vocabulary(first_day=date(2025, 1, 1))
    with pytest.raises(ValueError, match="after last_day"):
        Vocabulary(first_day=date(2025, 1, 2), last_day=date(2025, 1, 1))
