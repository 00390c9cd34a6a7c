"""Rule-based classification of the user's message."""

from __future__ import annotations

import pytest

from functions.triage import classify


@pytest.mark.parametrize(
    ("text", "intent", "focus"),
    [
        ("Analyze my AI costs", "full_analysis", None),
        ("analyse our LLM spend please", "full_analysis", None),
        ("How much did we spend last month?", "full_analysis", None),
        ("Give me a report comparing models", "full_analysis", None),
        ("Would prompt caching save us money?", "question", "caching"),
        ("Which cheaper model could we switch to?", "question", "model_choice"),
        ("hello", "off_topic", None),
        ("What's the weather in Paris?", "off_topic", None),
        ("   ", "off_topic", None),
    ],
)
def test_classify(text: str, intent: str, focus: str | None) -> None:
    result = classify(text)
    assert (result.intent, result.focus) == (intent, focus)


def test_classification_names_the_keywords_that_decided_it() -> None:
    result = classify("Caching? I mean the prompt CACHE, to save costs")
    assert result.matched == ("caching", "cache")
    assert result.words == 9
    assert result.to_json()["intent"] == "question"


def test_off_topic_matches_nothing() -> None:
    assert classify("hi there").matched == ()
