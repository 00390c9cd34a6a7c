"""The wire protocol (apex_core.protocol): client-frame validation, server frames, the
terminal event, the Authorization header."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from apex_core.errors import AuthenticationError, InvalidFrame, UnknownFrameType
from apex_core.protocol import (
    DEFAULT_THREAD_PAGE,
    MAX_SEQ,
    MAX_TEXT_CHARS,
    MAX_THREAD_PAGE,
    Cancel,
    GetThread,
    Resume,
    RunEvent,
    UserMessage,
    cancel_requested_frame,
    is_terminal_event,
    parse_client_frame,
    pong_frame,
    thread_frame,
    threads_frame,
    token_from_authorization,
)
from apex_core.schema import StoredMessage, StoredRun, ThreadHistory, ThreadListing


def test_user_message_with_all_fields() -> None:
    frame = parse_client_frame(
        json.dumps(
            {
                "type": "user_message",
                "text": "Analyze",
                "thread_id": "t-1",
                "client_message_id": "c1",
            }
        )
    )
    assert frame == UserMessage(
        type="user_message", text="Analyze", thread_id="t-1", client_message_id="c1"
    )


def test_resume_defaults_after_seq_to_zero() -> None:
    assert parse_client_frame('{"type":"resume","run_id":"r-1"}') == Resume(
        type="resume", run_id="r-1", after_seq=0
    )


@pytest.mark.parametrize(
    ("raw", "error", "fragment"),
    [
        ("not json", InvalidFrame, "JSON"),
        ("[1, 2]", InvalidFrame, "got a JSON list"),
        ('{"text": "x"}', InvalidFrame, "'type'"),
        ('{"type": "shout"}', UnknownFrameType, "unknown frame type 'shout'"),
        ('{"type": "user_message"}', InvalidFrame, "text: Field required"),
        ('{"type": "user_message", "text": ""}', InvalidFrame, "text"),
        ('{"type": "resume", "run_id": "r", "after_seq": -1}', InvalidFrame, "after_seq"),
        ('{"type": "cancel", "run_id": "a/b"}', InvalidFrame, "run_id"),
        ('{"type": "ping", "extra": 1}', InvalidFrame, "extra"),
    ],
)
def test_bad_frames_say_what_is_wrong(raw: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        parse_client_frame(raw)
    assert fragment in str(info.value)


def test_text_longer_than_the_limit_is_refused() -> None:
    frame = {"type": "user_message", "text": "x" * (MAX_TEXT_CHARS + 1)}
    with pytest.raises(InvalidFrame, match="at most 4000 characters"):
        parse_client_frame(json.dumps(frame))
    frame["text"] = "x" * MAX_TEXT_CHARS
    assert isinstance(parse_client_frame(json.dumps(frame)), UserMessage)


def test_error_messages_do_not_echo_values() -> None:
    secret = "Bearer-abc.def.ghi"
    with pytest.raises(InvalidFrame) as info:
        parse_client_frame(json.dumps({"type": "cancel", "run_id": secret + "/"}))
    assert secret not in str(info.value)
    assert isinstance(parse_client_frame('{"type":"cancel","run_id":"r-2"}'), Cancel)


def test_run_event_keeps_type_specific_fields_and_knows_terminal() -> None:
    common = {"run_id": "r", "thread_id": "t", "seq": 9, "ts": "2026-01-01T00:00:00.000Z"}
    final = RunEvent.model_validate(
        {**common, "type": "agent_completed", "agent": "supervisor", "final": True, "summary": "s"}
    )
    assert final.to_frame()["final"] is True
    assert final.is_terminal
    sub = RunEvent.model_validate({**common, "type": "agent_completed", "agent": "data"})
    assert not sub.is_terminal


@pytest.mark.parametrize(
    ("type_", "agent", "extra", "terminal"),
    [
        ("agent_completed", "supervisor", {"final": True}, True),
        ("agent_error", "supervisor", {}, True),
        ("agent_completed", "supervisor", {}, False),  # only ``final: true`` ends the run
        ("agent_completed", "reporting", {"final": True}, False),
        ("agent_error", "data", {}, False),
        ("agent_thinking", "supervisor", {}, False),
    ],
)
def test_only_the_supervisors_final_completion_or_its_error_is_terminal(
    type_: str, agent: str, extra: dict[str, object], terminal: bool
) -> None:
    event = {"type": type_, "agent": agent, "run_id": "r", "seq": 9, **extra}
    assert is_terminal_event(event) is terminal
    common = {"run_id": "r", "thread_id": "t", "seq": 9, "ts": "2026-01-01T00:00:00.000Z"}
    assert RunEvent.model_validate({**common, **event}).is_terminal is terminal


def test_the_token_of_an_authorization_header() -> None:
    assert token_from_authorization("Bearer abc.def.ghi") == "abc.def.ghi"
    assert token_from_authorization("  bearer   tok ") == "tok"
    for value in ("", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "tok"):
        with pytest.raises(AuthenticationError) as refused:
            token_from_authorization(value)
        assert refused.value.message == (
            "the Authorization header must be 'Bearer <token>'; it holds another scheme or no token"
        )


def test_the_thread_frame_shows_stored_data_with_rfc3339_times() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    history = ThreadHistory(
        thread_id="t-1",
        title="Analyze",
        messages=(
            StoredMessage(
                message_id="r-1-user", role="user", text="hi", run_id="r-1", created_at=at
            ),
            StoredMessage(message_id="m-x", role=None, text=None, run_id=None, created_at=None),
        ),
        runs=(StoredRun(run_id="r-1", status="completed", created_at=at, last_seq=7),),
    )
    assert thread_frame(history) == {
        "type": "thread",
        "thread_id": "t-1",
        "title": "Analyze",
        "messages": [
            {
                "message_id": "r-1-user",
                "role": "user",
                "text": "hi",
                "run_id": "r-1",
                "created_at": "2026-01-02T03:04:05.678Z",
            },
            {"message_id": "m-x", "role": None, "text": None, "run_id": None, "created_at": None},
        ],
        "runs": [
            {
                "run_id": "r-1",
                "status": "completed",
                "created_at": "2026-01-02T03:04:05.678Z",
                "last_seq": 7,
            }
        ],
        "cursor": None,
        "next_cursor": None,
    }


def test_the_threads_frame_keeps_the_stores_order() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    listing = [
        ThreadListing(thread_id="t-2", title="b", updated_at=at, last_run_id="r-2"),
        ThreadListing(thread_id="t-1", title="a", updated_at=None, last_run_id=None),
    ]
    assert threads_frame(listing) == {
        "type": "threads",
        "threads": [
            {
                "thread_id": "t-2",
                "title": "b",
                "updated_at": "2026-01-02T00:00:00.000Z",
                "last_run_id": "r-2",
            },
            {"thread_id": "t-1", "title": "a", "updated_at": None, "last_run_id": None},
        ],
    }
    assert (pong_frame(), cancel_requested_frame("r-1")) == (
        {"type": "pong"},
        {"type": "cancel_requested", "run_id": "r-1"},
    )


# ---------------------------------------------------------------- issue 12: bounded input


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"resume","run_id":"r","after_seq":' + "9" * 5000 + "}",
        '{"type":"resume","run_id":"r","after_seq":' + str(2**63) + "}",
        '{"type":"resume","run_id":"r","after_seq":' + str(MAX_SEQ + 1) + "}",
        '{"type":"resume","run_id":"r","after_seq":1e400}',
        '{"type":"get_thread","thread_id":"t","limit":' + "9" * 4400 + "}",
        '{"type":"get_thread","thread_id":"t","limit":0}',
        '{"type":"get_thread","thread_id":"t","limit":' + str(MAX_THREAD_PAGE + 1) + "}",
        "[" * 5000 + "]" * 5000,
        '{"a":' * 2000 + "1" + "}" * 2000,
        '{"type":"user_message","text":"\\ud800"}',
        '{"type":"\\udfff"}',
    ],
)
def test_hostile_numbers_nesting_and_unicode_are_invalid_frames(raw: str) -> None:
    with pytest.raises(InvalidFrame) as info:
        parse_client_frame(raw)
    assert len(str(info.value)) < 600


def test_after_seq_and_page_limits_at_their_bounds() -> None:
    assert parse_client_frame(
        json.dumps({"type": "resume", "run_id": "r", "after_seq": MAX_SEQ})
    ) == Resume(type="resume", run_id="r", after_seq=MAX_SEQ)
    page = parse_client_frame(
        json.dumps(
            {"type": "get_thread", "thread_id": "t", "limit": MAX_THREAD_PAGE, "cursor": "m-1"}
        )
    )
    assert page == GetThread(type="get_thread", thread_id="t", limit=MAX_THREAD_PAGE, cursor="m-1")
    assert parse_client_frame('{"type":"get_thread","thread_id":"t"}') == GetThread(
        type="get_thread", thread_id="t", limit=DEFAULT_THREAD_PAGE, cursor=None
    )
