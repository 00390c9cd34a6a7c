"""What a hostile or greedy client can do to a real edge process (docs/SECURITY.md).

Budgets shared by every socket of a user, the per-address limit on new demo
users, get_thread pagination, bounded integers, and a hypothesis fuzz of client
frames over a real socket: every frame is answered, no exception escapes, the
socket is never closed with 1011 and the edge logs no traceback.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apex_core.protocol import MAX_SEQ
from tests.e2e.conftest import EdgeLauncher, EdgeProcess
from tests.e2e.ws_client import ApexClient, Frame, connect, refusal, run

pytestmark = pytest.mark.emulators


def new_user() -> str:
    return f"abuse-{secrets.token_hex(4)}"


async def send_message(client: ApexClient, text: str, **fields: str) -> Frame:
    return await client.request(
        {"type": "user_message", "text": text, **fields}, "message_accepted"
    )


def tracebacks(edge: EdgeProcess) -> list[str]:
    path = edge.child.log_path
    assert path is not None
    return [line for line in path.read_text(errors="replace").splitlines() if "Traceback" in line]


# ---------------------------------------------------------------- budgets


def test_the_frame_budget_is_shared_by_every_socket_of_a_user(
    edge_launcher: EdgeLauncher,
) -> None:
    edge = edge_launcher.start("budget", {"EDGE_USER_BUDGET_PER_MINUTE": "6"})
    user = new_user()

    async def body() -> None:
        async with (
            connect(edge.ws_url, token=edge.token(user)) as one,
            connect(edge.ws_url, token=edge.token(user)) as two,
        ):
            for client in (one, two, one, two, one, two):
                assert await client.request({"type": "ping"}, "pong") == {"type": "pong"}
            refused = await one.expect_error({"type": "ping"})
            assert refused["code"] == "rate_limited"
            assert refused["retry_after_ms"] > 0
            assert (await two.expect_error({"type": "ping"}))["code"] == "rate_limited"
        # Reconnecting refills nothing.
        async with connect(edge.ws_url, token=edge.token(user)) as again:
            assert (await again.expect_error({"type": "ping"}))["code"] == "rate_limited"
        # Another user has a budget of their own.
        async with connect(edge.ws_url, token=edge.token(new_user())) as other:
            assert await other.request({"type": "ping"}, "pong") == {"type": "pong"}

    run(body)


def test_reads_cost_the_documents_they_touch(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start("reads", {"EDGE_USER_BUDGET_PER_MINUTE": "20"})

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            first = await send_message(client, "one", client_message_id="c-1")
            thread_id = first["thread_id"]
            for n in (2, 3):
                await send_message(client, f"m{n}", thread_id=thread_id, client_message_id=f"c-{n}")
            # 3 messages sent: 3 of the 20 tokens. A page costs 1 for the frame plus the
            # thread, 3 messages and 3 runs: 8. Charged by document, the budget allows
            # 3 pages (17 -> 9 -> 1 -> -7, plus what refills meanwhile); charged by frame
            # it would allow 17.
            pages = 0
            while pages < 17:
                await client.send({"type": "get_thread", "thread_id": thread_id})
                answer = await client.next_of("thread", "error")
                if answer["type"] == "error":
                    assert answer["code"] == "rate_limited"
                    break
                assert len(answer["messages"]) == 3
                pages += 1
            assert 2 <= pages <= 4, pages
            refused = await client.expect_error({"type": "list_threads"})
            assert refused["code"] == "rate_limited"

    run(body)


def test_new_demo_users_are_limited_per_address_and_sessions_reconnect(
    edge_launcher: EdgeLauncher,
) -> None:
    edge = edge_launcher.start("demoip", {"EDGE_DEMO_HANDSHAKES_PER_MINUTE": "2"})

    async def body() -> None:
        tokens = []
        for _ in range(2):
            async with connect(edge.ws_url) as client:
                tokens.append(client.ready["session_token"])
        answer = await refusal(edge.ws_url)
        assert answer.status == 429
        assert "new demo sessions" in answer.body
        assert int(answer.headers["Retry-After"]) >= 1
        # A demo user coming back with its session token is not a new one.
        async with connect(edge.ws_url, token=tokens[0]) as back:
            assert back.ready["demo"] is True
        # Signed-in users are not counted.
        async with connect(edge.ws_url, token=edge.token(new_user())) as user:
            assert user.ready["demo"] is False

    run(body)


# ---------------------------------------------------------------- get_thread pages


def test_get_thread_pages_through_a_long_thread(edge: EdgeProcess) -> None:
    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            first = await send_message(client, "m1", client_message_id="p-1")
            thread_id = first["thread_id"]
            for n in range(2, 6):
                await send_message(client, f"m{n}", thread_id=thread_id, client_message_id=f"p-{n}")
            texts: list[str] = []
            runs: list[str] = []
            cursor = None
            sizes = []
            while True:
                frame: Frame = {"type": "get_thread", "thread_id": thread_id, "limit": 2}
                if cursor is not None:
                    frame["cursor"] = cursor
                page = await client.request(frame, "thread")
                assert page["cursor"] == cursor
                sizes.append(len(page["messages"]))
                texts += [m["text"] for m in page["messages"]]
                runs += [r["run_id"] for r in page["runs"]]
                assert {m["run_id"] for m in page["messages"]} == {
                    r["run_id"] for r in page["runs"]
                }
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert sizes == [2, 2, 1]
            assert texts == ["m1", "m2", "m3", "m4", "m5"]
            assert len(set(runs)) == 5
            missing = await client.expect_error(
                {"type": "get_thread", "thread_id": thread_id, "cursor": "no-such-message"}
            )
            assert missing["code"] == "not_found"
            too_big = await client.expect_error(
                {"type": "get_thread", "thread_id": thread_id, "limit": 101}
            )
            assert too_big["code"] == "invalid_frame"

    run(body)


# ---------------------------------------------------------------- bounded integers


def test_huge_integers_are_protocol_errors_not_tracebacks(edge_launcher: EdgeLauncher) -> None:
    edge = edge_launcher.start_fresh("bigints")

    async def body() -> None:
        async with connect(edge.ws_url, token=edge.token(new_user())) as client:
            for number in ("9" * 5000, str(2**63), str(MAX_SEQ + 1), "1e999", "-" + "9" * 30):
                raw = '{"type":"resume","run_id":"r-1","after_seq":' + number + "}"
                answer = await client.expect_error(raw)
                assert answer["code"] == "invalid_frame", answer
            deep = await client.expect_error("[" * 4000 + "]" * 4000)
            assert deep["code"] == "invalid_frame"
            assert await client.request({"type": "ping"}, "pong") == {"type": "pong"}

    run(body)
    assert tracebacks(edge) == []
    edge.child.stop()


# ---------------------------------------------------------------- fuzz

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None), max_size=40)
)
_TYPES = st.sampled_from(
    ["user_message", "resume", "get_thread", "list_threads", "cancel", "ping", "", "x" * 60]
)
_KEYS = st.sampled_from(
    ["text", "thread_id", "run_id", "after_seq", "cursor", "limit", "client_message_id", "user_id"]
) | st.text(max_size=12)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def client_frames(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["frame", "json", "bytes", "deep", "number", "unicode"]))
    if kind == "frame":
        fields = draw(st.dictionaries(_KEYS, _JSON, max_size=5))
        return json.dumps({"type": draw(_TYPES), **fields}, ensure_ascii=draw(st.booleans()))
    if kind == "json":
        return json.dumps(draw(_JSON))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        # under the 8192-byte frame limit (a bigger frame is closed with 1009, by design)
        depth = draw(st.integers(min_value=100, max_value=8000 // (len(opener) + 1)))
        return opener * depth + "1" + closer * depth
    if kind == "number":
        digits = draw(st.integers(min_value=1, max_value=7000))
        return '{"type":"resume","run_id":"r","after_seq":' + "7" * digits + "}"
    text = draw(st.text(alphabet=st.characters(codec=None), min_size=1, max_size=60))
    escaped = draw(st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\u2028", ""]))
    return (
        '{"type":"user_message","text":"'
        + json.dumps(text)[1:-1]
        + escaped
        + '","client_message_id":"'
        + escaped
        + '"}'
    )


def test_fuzzed_client_frames_never_break_the_edge(edge_launcher: EdgeLauncher) -> None:
    """Random JSON, random bytes, deep nesting, huge numbers and odd unicode over one
    socket: each frame is answered (a frame of its own, never a close), and the
    edge logs no traceback."""
    edge = edge_launcher.start_fresh(
        "fuzz",
        {"EDGE_USER_BUDGET_PER_MINUTE": "100000", "EDGE_USER_MESSAGES_PER_MINUTE": "100000"},
    )
    token = edge.token(new_user())
    seen: list[Any] = []

    async def exchange(raw: str | bytes) -> None:
        async with connect(edge.ws_url, token=token) as client:
            await client.send_raw(raw)
            answer = await client.next_frame(within=15)
            assert answer["type"] in (
                "error",
                "pong",
                "threads",
                "thread",
                "message_accepted",
                "cancel_requested",
            ), answer
            seen.append(answer["type"])
            # The socket is still open and well: a ping is answered.
            assert await client.request({"type": "ping"}, "pong") == {"type": "pong"}

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=True,  # the same frames every run: a failure is reproducible
        database=None,  # and nothing is written into the work tree
    )
    @given(client_frames())
    def one_frame(raw: str | bytes) -> None:
        run(lambda: exchange(raw), within=60)

    one_frame()
    assert "error" in seen
    assert tracebacks(edge) == [], edge.child.tail()
    edge.child.stop()
