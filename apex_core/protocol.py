"""Wire protocol ``apex.v1``: the frames a client and the edge exchange, as data.

No I/O here. ``parse_client_frame`` turns raw text into a validated frame or
raises an :class:`~apex_core.errors.InvalidFrame`; the ``*_frame`` helpers build
the server's frames as plain dicts ready for ``json.dumps``. ``RunEvent`` is the
shape of every run event, stored in Firestore exactly as it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from apex_core.errors import AuthenticationError, InvalidFrame, UnknownFrameType
from apex_core.schema import ThreadHistory, ThreadListing

PROTOCOL: Final = "apex.v1"
BEARER_SUBPROTOCOL_PREFIX: Final = "apex.bearer."

# Limits
MAX_CLIENT_FRAME_BYTES: Final = 8192
MAX_TEXT_CHARS: Final = 4000
MAX_ID_CHARS: Final = 128
# Every integer a client sends is bounded here, far below int64 (Firestore's
# integers): a run never has this many events.
MAX_SEQ: Final = 2**31 - 1
# get_thread answers at most this many messages a page (see the ``thread`` frame).
DEFAULT_THREAD_PAGE: Final = 50
MAX_THREAD_PAGE: Final = 100

# Close codes
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009

AgentName = Literal["supervisor", "triage", "data", "optimization", "reporting"]
RunStatus = Literal["queued", "running", "completed", "failed", "cancelled", "timed_out"]
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset(
    {"completed", "failed", "cancelled", "timed_out"}
)
EventType = Literal[
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
    "agent_error",
]
EVENT_TYPES: Final[frozenset[str]] = frozenset(get_args(EventType))

Identifier = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[A-Za-z0-9_.:-]+$")
]


def utc_now_rfc3339() -> str:
    """The current time as RFC 3339 with milliseconds and a ``Z``."""
    return rfc3339(datetime.now(UTC))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- credentials


def token_from_authorization(value: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value (the edge's
    handshake and the upload endpoint take it the same way; the scheme's case and
    the spaces around the token do not matter).

    Raises :class:`AuthenticationError` for another scheme or a missing token; the
    message never echoes the value.
    """
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "the Authorization header must be 'Bearer <token>'; it holds another scheme or no token"
        )
    return token.strip()


# ---------------------------------------------------------------- client frames


class _ClientFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserMessage(_ClientFrame):
    type: Literal["user_message"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    thread_id: Identifier | None = None
    client_message_id: Identifier | None = None


class Resume(_ClientFrame):
    type: Literal["resume"]
    run_id: Identifier
    after_seq: Annotated[int, Field(ge=0, le=MAX_SEQ)] = 0


class GetThread(_ClientFrame):
    """One page of a thread's messages, oldest first; ``cursor`` is the previous
    page's ``next_cursor`` (the id of its last message)."""

    type: Literal["get_thread"]
    thread_id: Identifier
    cursor: Identifier | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_THREAD_PAGE)] = DEFAULT_THREAD_PAGE


class ListThreads(_ClientFrame):
    type: Literal["list_threads"]


class Cancel(_ClientFrame):
    type: Literal["cancel"]
    run_id: Identifier


class Ping(_ClientFrame):
    type: Literal["ping"]


ClientFrame = Annotated[
    UserMessage | Resume | GetThread | ListThreads | Cancel | Ping,
    Field(discriminator="type"),
]
_CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_TYPES: Final = frozenset(
    {"user_message", "resume", "get_thread", "list_threads", "cancel", "ping"}
)


def parse_client_frame(raw: str | bytes) -> ClientFrame:
    """Validate one client frame.

    Raises :class:`InvalidFrame` (not JSON, not an object, wrong or missing
    fields) or :class:`UnknownFrameType`; the message says what was expected
    and what arrived, and never echoes field values back.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidFrame(
            f"expected one JSON object per text frame; could not parse it ({exc.msg} at position "
            f"{exc.pos})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidFrame(
            "expected one JSON object per text frame; the frame is not valid UTF-8"
        ) from exc
    except RecursionError as exc:
        raise InvalidFrame("expected a flat JSON object; the frame is nested too deeply") from exc
    except ValueError as exc:  # an integer of more than 4300 digits
        raise InvalidFrame(
            f"expected numbers of at most {len(str(MAX_SEQ))} digits; the frame holds a longer one"
        ) from exc
    if not isinstance(data, dict):
        raise InvalidFrame(f"expected a JSON object, got a JSON {type(data).__name__}")
    frame_type = data.get("type")
    if not isinstance(frame_type, str):
        raise InvalidFrame("expected a string field 'type'; it is missing")
    if frame_type not in CLIENT_TYPES:
        raise UnknownFrameType(
            f"unknown frame type {frame_type[:40]!r}; expected one of {sorted(CLIENT_TYPES)}"
        )
    try:
        return _CLIENT_FRAME.validate_python(data)
    except ValidationError as exc:
        # The first step of each error's location is the frame type (the union's tag).
        problems = validation_problems(exc, whole="frame", skip=1)
        raise InvalidFrame(f"invalid {frame_type!r} frame: {problems}") from exc


def validation_problems(exc: ValidationError, *, whole: str, skip: int = 0) -> str:
    """What is wrong, field by field (``text: String should have at least 1 character``),
    never the values; ``whole`` names an error of the object itself, ``skip`` drops that
    many leading steps of each location."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'][skip:]) or whole}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    )


# ---------------------------------------------------------------- server frames


def connection_ready_frame(
    *, connection_id: str, user_id: str, demo: bool, session_token: str | None
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "connection_ready",
        "connection_id": connection_id,
        "user_id": user_id,
        "demo": demo,
        "protocol": PROTOCOL,
        "server_time": utc_now_rfc3339(),
    }
    if session_token is not None:
        frame["session_token"] = session_token
    return frame


def error_frame(
    code: str, message: str, *, retryable: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "retryable": retryable, **extra}


def pong_frame() -> dict[str, Any]:
    return {"type": "pong"}


def cancel_requested_frame(run_id: str) -> dict[str, Any]:
    return {"type": "cancel_requested", "run_id": run_id}


def thread_frame(thread: ThreadHistory) -> dict[str, Any]:
    """The answer to ``get_thread``: the thread's messages and runs, oldest first."""
    return {
        "type": "thread",
        "thread_id": thread.thread_id,
        "title": thread.title,
        "messages": [
            {
                "message_id": m.message_id,
                "role": m.role,
                "text": m.text,
                "run_id": m.run_id,
                "created_at": _rfc3339_or_none(m.created_at),
            }
            for m in thread.messages
        ],
        "runs": [
            {
                "run_id": r.run_id,
                "status": r.status,
                "created_at": _rfc3339_or_none(r.created_at),
                "last_seq": r.last_seq,
            }
            for r in thread.runs
        ],
        "cursor": thread.cursor,
        "next_cursor": thread.next_cursor,
    }


def threads_frame(threads: Iterable[ThreadListing]) -> dict[str, Any]:
    """The answer to ``list_threads``: the user's threads, in the order given."""
    return {
        "type": "threads",
        "threads": [
            {
                "thread_id": t.thread_id,
                "title": t.title,
                "updated_at": _rfc3339_or_none(t.updated_at),
                "last_run_id": t.last_run_id,
            }
            for t in threads
        ],
    }


def _rfc3339_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def message_accepted_frame(
    *, client_message_id: str | None, thread_id: str, run_id: str
) -> dict[str, Any]:
    return {
        "type": "message_accepted",
        "client_message_id": client_message_id,
        "thread_id": thread_id,
        "run_id": run_id,
    }


# ---------------------------------------------------------------- run events


class RunEvent(BaseModel):
    """One run event, exactly as stored at ``runs/{run_id}/events/{seq}`` and sent to clients.

    Fields beyond the common ones depend on ``type`` (see DESIGN.md); they are
    kept as extra fields so that the stored document and the frame are the same
    dict.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: EventType
    run_id: str
    thread_id: str
    seq: Annotated[int, Field(ge=1)]
    ts: str
    agent: AgentName

    def to_frame(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def is_terminal(self) -> bool:
        """See :func:`is_terminal_event`."""
        return is_terminal_event(
            {**(self.model_extra or {}), "agent": self.agent, "type": self.type}
        )


def is_terminal_event(event: Mapping[str, Any]) -> bool:
    """The run's last event: the supervisor's ``agent_completed`` with ``final: true``, or
    the supervisor's ``agent_error``. Every other event (a sub-agent's ``agent_completed``
    or ``agent_error`` included) is followed by more."""
    if event.get("agent") != "supervisor":
        return False
    return event.get("type") == "agent_error" or (
        event.get("type") == "agent_completed" and event.get("final") is True
    )


# ---------------------------------------------------------------- edge -> functions


class RunRequest(BaseModel):
    """The body of one ``apex-requests`` message: a user's message, accepted as a run.

    ``run_id`` is decided by the edge, so a redelivery is the same run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: Identifier
    thread_id: Identifier
    user_id: Annotated[str, Field(min_length=1, max_length=256)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    client_message_id: Identifier | None = None
    submitted_at: str
