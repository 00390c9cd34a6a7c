"""The wire protocol's client-frame validation (apex_core.protocol)."""

from __future__ import annotations

import json

import pytest

from apex_core.errors import InvalidFrame, UnknownFrameType
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
    parse_client_frame,
)


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
