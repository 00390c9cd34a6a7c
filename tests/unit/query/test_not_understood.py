"""Never a silent fallback: what the parser cannot answer, it says, with questions it can."""

from __future__ import annotations

from datetime import date

import pytest

from apex_core.query.parser import NotUnderstood, Parsed, parse
from apex_core.query.suggestions import DataFacts, closest_questions, suggest_questions
from apex_core.query.vocabulary import Vocabulary
from tests.unit.query.vocabularies import DEMO, DEMO_FACTS, REAL


def not_understood(text: str, vocabulary: Vocabulary = DEMO) -> NotUnderstood:
    result = parse(text, vocabulary, facts=DEMO_FACTS)
    assert isinstance(result, NotUnderstood), result
    return result


@pytest.mark.parametrize(
    "text", ["tell me a joke", "hello", "What's the weather in Paris?", "thanks!"]
)
def test_off_topic_gets_suggestions_with_the_users_names(text: str) -> None:
    result = not_understood(text)
    assert result.reason == "off_topic"
    assert result.suggestions == (
        "How much did we spend on claude-3-5-sonnet-20241022 last week?",
        "Why did costs spike on Nov 10?",
        "Which feature spends the most?",
    )
    reply = result.reply()
    assert reply.startswith("That does not look like a question about your AI spend.")
    assert "- Why did costs spike on Nov 10?" in reply


def test_an_empty_message() -> None:
    assert not_understood("   ").reason == "empty"


def test_a_model_the_usage_does_not_have() -> None:
    result = not_understood("how much did we spend on gpt-5 last week?")
    assert result.reason == "unknown_name"
    assert result.not_understood == ('"gpt-5" is not a model in your usage',)
    assert result.understood == (
        "last week (17-23 Nov 2025, counted back from your data's last day, 25 Nov 2025)",
    )
    assert result.suggestions[0] == "How much did we spend on gpt-4o last week?"
    assert 'I did not understand: "gpt-5" is not a model in your usage.' in result.reply()


def test_gpt_4o_is_not_gpt_4o_mini() -> None:
    only_mini = Vocabulary(providers=("openai",), models=("gpt-4o-mini",), features=("faq-bot",))
    result = not_understood("spend on gpt-4o", only_mini)
    assert result.not_understood == ('"gpt-4o" is not a model in your usage',)
    assert result.suggestions[0] == "How much did we spend on gpt-4o-mini?"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("how much do we spend on azure", '"azure" is not a provider in your usage'),
        ("costs for team-alpha", '"team-alpha" is not a name in your usage'),
        ("cost of proj_billing", '"proj_billing" is not a name in your usage'),
    ],
)
def test_other_names_the_usage_does_not_have(text: str, problem: str) -> None:
    result = not_understood(text, REAL if "proj" in text else DEMO)
    assert result.reason == "unknown_name"
    assert result.not_understood == (problem,)


def test_model_family_words_are_names_only_where_a_model_is_expected() -> None:
    assert not_understood("write me a haiku").reason == "off_topic"
    assert not_understood("show me the commands").reason == "off_topic"
    result = not_understood("what if code-review used haiku")
    assert result.not_understood == ('"haiku" is not a model in your usage or the price list',)
    versioned = not_understood("how much did we spend on claude-opus-4?")
    assert versioned.not_understood == ('"claude-opus-4" is not a model in your usage',)
    assert versioned.suggestions[:2] == (
        "How much did we spend on claude-3-5-sonnet-20241022?",
        "Which feature spends the most?",
    )


def test_hyphenated_english_is_not_taken_for_a_name() -> None:
    result = parse("is gpt-4o cost-effective for support-chat?", DEMO)
    assert isinstance(result, Parsed)
    assert [f.values for f in result.query.filters] == [("gpt-4o",), ("support-chat",)]


def test_names_close_to_a_stored_one_are_offered() -> None:
    assert not_understood("cost of proj_billing", REAL).suggestions[0] == (
        "How much did we spend on proj_support?"  # the same "proj" prefix, most spend first
    )
    assert not_understood("spend on claude-opus last week").suggestions[0] == (
        "How much did we spend on claude-3-5-sonnet-20241022 last week?"
    )


def test_a_date_that_does_not_exist() -> None:
    result = not_understood("spend on Feb 30")
    assert result.reason == "bad_date"
    assert result.not_understood == ("30 Feb 2025 is not a date",)


def test_a_period_outside_the_data() -> None:
    result = not_understood("spend on gpt-4o in March 2025")
    assert result.reason == "no_data"
    assert result.not_understood == (
        "March 2025 (1-31 Mar 2025) has no usage: your data covers 27 Oct - 25 Nov 2025",
    )
    assert result.understood[:2] == ("cost", "model gpt-4o")


def test_a_what_if_without_a_change() -> None:
    result = not_understood("what would we save?")
    assert result.reason == "unclear"
    assert "prompt caching, the batch API" in result.not_understood[0]


def test_no_usage_yet() -> None:
    empty = Vocabulary()
    result = parse("spend last week", empty)
    assert isinstance(result, NotUnderstood)
    assert result.not_understood == ('"last week" needs usage data to count back from',)
    assert result.suggestions == ("Which model spends the most?", "Analyze my AI costs")


def test_suggestions_use_the_users_data() -> None:
    assert suggest_questions(REAL, DataFacts()) == (
        "How much did we spend on claude-3-5-sonnet-20241022 last week?",
        "Which feature spends the most?",
        "What would prompt caching save on proj_support?",
        "Analyze my AI costs",
    )


@pytest.mark.parametrize(
    ("vocabulary", "facts"),
    [(DEMO, DEMO_FACTS), (REAL, DataFacts(spike_day=date(2025, 3, 12))), (REAL, DataFacts())],
    ids=["demo", "real", "real-no-facts"],
)
def test_every_suggested_question_parses(vocabulary: Vocabulary, facts: DataFacts) -> None:
    questions = suggest_questions(vocabulary, facts, limit=10) + closest_questions(
        vocabulary, facts, unknown_words=("gpt-5", "proj_x"), period_words="last week", limit=10
    )
    assert len(questions) >= 6
    for question in questions:
        assert isinstance(parse(question, vocabulary, facts=facts), Parsed), question


def test_notes_say_how_names_and_typos_were_read() -> None:
    result = parse("how much did we spnd on suport-chat", DEMO)
    assert isinstance(result, Parsed)
    assert result.notes == ('read "spnd" as "spend"', 'read "suport-chat" as support-chat')
    target = parse("what if faq-bot used gpt-4.1-mini", DEMO)
    assert isinstance(target, Parsed)
    assert target.notes == ("gpt-4.1-mini is not in your usage: it is priced from the price list",)
    both = parse("spend by model and feature", DEMO)
    assert isinstance(both, Parsed)
    assert both.notes == ("one breakdown at a time: by model",)


def test_a_long_message_is_not_read_word_by_word() -> None:
    result = not_understood("spend " * 81)
    assert result.reason == "too_long"
    assert result.not_understood == (
        "a message of 81 words: ask one question at a time, in at most 80 words",
    )
    assert isinstance(parse("spend " * 80, DEMO), Parsed)


@pytest.mark.parametrize(
    "text",
    [
        "💸💸💸",
        "?!?!",
        "12345",
        "$",
        "'; DROP TABLE usage; --",
        "<script>alert(1)</script> spend",
        "spend on \u0000 gpt-4o",
        "between and",
        "top 0 models",
        "top 999 models",
        "last 0 days",
        "what if",
        "why why why",
        "and and and",
        "gpt-4o gpt-4o gpt-4o vs vs",
        "2025-02-30 to 2025-13-01",
        "Nov 24 - Nov 20",
        "ÄÖÜ spend ß",
    ],
)
def test_odd_messages_get_an_answer_never_an_exception(text: str) -> None:
    earlier = parse("How much did we spend on gpt-4o last week?", DEMO)
    assert isinstance(earlier, Parsed)
    for previous in (None, earlier.query):
        result = parse(text, DEMO, previous=previous, facts=DEMO_FACTS)
        assert isinstance(result, Parsed | NotUnderstood)
        if isinstance(result, NotUnderstood):
            assert result.suggestions
