"""ingest_usage as a real process on the Firestore emulator, driven over real sockets.

The module starts its own ``ingest_usage`` processes (the shared ``functions_stack``
does not expose its JWT secret): one with a known secret and a small
``INGEST_MAX_BYTES``, and one whose Firestore is a closed port (503). Uploads are
read back through :class:`functions.usage_store.UsageStore`, as the agents read them.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from google.cloud import firestore

from apex_core import names
from apex_core.cost import accumulate, read_usage
from apex_core.cost.model.cells import FeatureCell, FeatureKey
from apex_core.identity import AuthSettings, TokenVerifier, new_demo_user_id
from emulators.processes import Child, ProcessGroup, free_port, tcp_ready
from emulators.stack import REPO_ROOT, function_argv
from functions.usage_store import UsageStore
from tests.conftest import SHARED_DATA, EmulatorEnv, demo_secret_for
from tests.integration.conftest import HOST
from tests.usage_fixtures import (
    MALFORMED_NATIVE_REJECTIONS,
    MALFORMED_NATIVE_ROWS,
    USAGE_FIXTURES,
)

pytestmark = pytest.mark.emulators

LIMIT = 256 * 1024
BURSTGPT = SHARED_DATA / "burstgpt" / "BurstGPT_1_first400.csv"
BURSTGPT_MAPPING = "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"
ALLOWED_ORIGIN = "http://127.0.0.1:8080"
OTHER_ORIGIN = "https://evil.example"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes


@dataclass(frozen=True)
class Ingest:
    """One running ingest_usage process and what a test needs to call it."""

    child: Child
    port: int
    jwt_secret: str

    def call(
        self,
        method: str,
        path: str = "/",
        body: bytes | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        encode_chunked: bool = False,
    ) -> Answer:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            conn.request(
                method, path, body=body, headers=dict(headers or {}), encode_chunked=encode_chunked
            )
            return _answer(conn.getresponse())
        finally:
            conn.close()

    def upload(
        self,
        data: bytes,
        token: str | None,
        *,
        content_type: str = "text/csv",
        path: str = "/",
        **params: str,
    ) -> Answer:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.call("POST", path + query, data, headers)

    def overview(self, token: str) -> dict[str, Any]:
        answer = self.call("GET", "/api/usage", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 200, answer.body
        return answer.body

    def user_token(self, sub: str) -> str:
        now = int(time.time())
        return jwt.encode(
            {"sub": sub, "iat": now, "exp": now + 600}, self.jwt_secret, algorithm="HS256"
        )

    def log_text(self) -> str:
        assert self.child.log_path is not None
        return self.child.log_path.read_text(errors="replace")


def _answer(response: http.client.HTTPResponse) -> Answer:
    raw = response.read()
    body = json.loads(raw) if raw else {}
    assert isinstance(body, dict)
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body, raw)


def _start_ingest(
    group: ProcessGroup, emulator_env: EmulatorEnv, name: str, **overrides: str
) -> Ingest:
    port = free_port()
    secret = secrets.token_urlsafe(48)
    env = emulator_env.app_env(jwt_secret=secret, INGEST_MAX_BYTES=str(LIMIT), **overrides)
    if "ALLOWED_ORIGINS" not in overrides:
        env.pop("ALLOWED_ORIGINS", None)
    child = group.start(
        name,
        function_argv(names.INGEST_USAGE_FUNCTION, host=HOST, port=port),
        env=env,
        cwd=REPO_ROOT,
    )
    child.wait_ready(tcp_ready(HOST, port), timeout=60)
    return Ingest(child=child, port=port, jwt_secret=secret)


@pytest.fixture(scope="module")
def processes(emulator_env: EmulatorEnv) -> Iterator[ProcessGroup]:
    with ProcessGroup(log_dir=emulator_env.log_dir / f"{emulator_env.project}-ingest") as group:
        yield group


@pytest.fixture(scope="module")
def ingest(processes: ProcessGroup, emulator_env: EmulatorEnv) -> Ingest:
    return _start_ingest(processes, emulator_env, "ingest_usage")


@pytest.fixture(scope="module")
def db(emulator_env: EmulatorEnv) -> firestore.Client:
    return firestore.Client(project=emulator_env.project)


def _fixture(name: str) -> bytes:
    return (USAGE_FIXTURES / name).read_bytes()


def _local_rollup_cells(data: bytes, model: str | None = None) -> dict[FeatureKey, FeatureCell]:
    return accumulate(read_usage(data, model_mapping=model)).cells


def _user() -> str:
    return f"upload-user-{secrets.token_hex(4)}"


# ---------------------------------------------------------------- happy paths


def test_openai_export_with_cached_tokens_is_stored_as_a_rollup(
    ingest: Ingest, db: firestore.Client
) -> None:
    user = _user()
    data = _fixture("openai_usage_completions.json")
    answer = ingest.upload(
        data, ingest.user_token(user), content_type="application/json", filename="usage.json"
    )
    assert answer.status == 201, answer.body
    body = answer.body
    assert body["upload_id"].startswith("upload-")
    assert body["duplicate"] is False
    assert (body["source"], body["format"]) == ("usage.json", "openai-usage")
    assert body["rows"] == {
        "read": 3,
        "imported": 3,
        "rejected": 0,
        "empty_buckets": 0,
        "reasons": {},
    }
    assert body["rejections"] == []
    assert body["requests"] == 550
    assert (body["first_day"], body["last_day"]) == ("2025-03-01", "2025-03-02")
    assert body["models"] == ["openai:gpt-4o-2024-08-06", "openai:gpt-4o-mini-2024-07-18"]

    store = UsageStore(db, user)
    [info] = store.overview().uploads
    assert (info.upload_id, info.kind, info.usage_format) == (
        body["upload_id"],
        "upload",
        "openai-usage",
    )
    stored = store.load_rollup()
    assert stored.cells == _local_rollup_cells(data)
    assert stored.usage.cached_input_tokens == 400_000


def test_anthropic_report_with_cache_writes_through_the_lb_path(
    ingest: Ingest, db: firestore.Client
) -> None:
    user = _user()
    data = _fixture("anthropic_usage_report.json")
    answer = ingest.upload(
        data, ingest.user_token(user), content_type="application/json", path="/api/usage"
    )
    assert answer.status == 201, answer.body
    assert answer.body["format"] == "anthropic-usage"
    assert answer.body["source"] == "upload"
    assert answer.body["models"] == [
        "anthropic:claude-3-5-haiku-20241022",
        "anthropic:claude-3-5-sonnet-20241022",
    ]
    stored = UsageStore(db, user).load_rollup()
    assert stored.cells == _local_rollup_cells(data)
    assert stored.usage.cache_write_tokens == 500_000


def test_burstgpt_trace_with_a_mapping_and_a_demo_session_token(
    ingest: Ingest, db: firestore.Client
) -> None:
    verifier = TokenVerifier(
        AuthSettings(demo_mode=True, demo_secret=demo_secret_for(ingest.jwt_secret))
    )
    user = new_demo_user_id()
    token = verifier.issue_demo_session_token(user)
    data = BURSTGPT.read_bytes()
    answer = ingest.upload(data, token, filename=BURSTGPT.name, model=BURSTGPT_MAPPING)
    assert answer.status == 201, answer.body
    assert answer.body["format"] == "trace"
    assert answer.body["rows"]["imported"] == answer.body["rows"]["read"] == 400
    assert answer.body["models"] == ["openai:gpt-3.5-turbo", "openai:gpt-4"]
    assert any("BurstGPT" in note for note in answer.body["notes"])
    overview = ingest.overview(token)
    assert overview["requests"] == 400
    assert [item["upload_id"] for item in overview["items"]] == [answer.body["upload_id"]]
    stored = UsageStore(db, user).load_rollup()
    assert stored.cells == _local_rollup_cells(data, BURSTGPT_MAPPING)


def test_multipart_upload_with_form_fields(ingest: Ingest, db: firestore.Client) -> None:
    user = _user()
    data = BURSTGPT.read_bytes()
    body, content_type = _multipart(
        {"format": "trace", "model": BURSTGPT_MAPPING}, ("file", "burst.csv", data)
    )
    answer = ingest.call(
        "POST",
        "/api/usage",
        body,
        {"Content-Type": content_type, "Authorization": f"Bearer {ingest.user_token(user)}"},
    )
    assert answer.status == 201, answer.body
    assert (answer.body["source"], answer.body["format"]) == ("burst.csv", "trace")
    assert answer.body["rows"]["imported"] == 400
    assert UsageStore(db, user).overview().requests == 400


def test_the_same_file_twice_is_counted_once(ingest: Ingest, db: firestore.Client) -> None:
    user = _user()
    token = ingest.user_token(user)
    data = _fixture("openai_usage_completions.csv")
    first = ingest.upload(data, token, filename="march.csv")
    assert first.status == 201, first.body
    store = UsageStore(db, user)
    cells_before = store.load_rollup().cells

    second = ingest.upload(data, token, filename="march-again.csv")
    multipart, content_type = _multipart({}, ("file", "third.csv", data))
    third = ingest.call(
        "POST", "/", multipart, {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
    )
    for again in (second, third):
        assert again.status == 200, again.body
        assert again.body == {**first.body, "duplicate": True}  # the original summary and name
    overview = store.overview()
    assert [u.upload_id for u in overview.uploads] == [first.body["upload_id"]]
    assert overview.requests == first.body["requests"]
    assert store.load_rollup().cells == cells_before


def test_malformed_rows_are_counted_with_line_numbers(ingest: Ingest, db: firestore.Client) -> None:
    user = _user()
    answer = ingest.upload(
        _fixture("native_malformed.csv"), ingest.user_token(user), filename="bad.csv"
    )
    assert answer.status == 201, answer.body
    assert answer.body["rows"] == MALFORMED_NATIVE_ROWS
    assert [(r["line"], r["reason"]) for r in answer.body["rejections"]] == (
        MALFORMED_NATIVE_REJECTIONS
    )
    assert "12x" in answer.body["rejections"][0]["detail"]
    [info] = UsageStore(db, user).overview().uploads
    assert (info.rows_imported, info.rows_rejected, info.requests) == (2, 3, 2)


# ---------------------------------------------------------------- refusals


def test_a_file_without_one_good_row_is_422_and_stores_nothing(
    ingest: Ingest, db: firestore.Client
) -> None:
    user = _user()
    data = (
        b"timestamp,provider,model,input_tokens,output_tokens\n"
        b"2025-03-01T09:00:00Z,openai,gpt-4o,lots,100\n"
        b"2025-03-01T09:00:01Z,openai,gpt-4o,-1,100\n"
    )
    answer = ingest.upload(data, ingest.user_token(user))
    assert answer.status == 422, answer.body
    assert answer.body["error"]["code"] == "no_usable_rows"
    assert answer.body["error"]["retryable"] is False
    assert "nothing was stored" in answer.body["error"]["message"]
    assert answer.body["rows"]["imported"] == 0
    assert answer.body["rows"]["rejected"] == 2
    assert [r["line"] for r in answer.body["rejections"]] == [2, 3]
    assert UsageStore(db, user).overview().uploads == ()


def test_a_trace_without_a_mapping_is_400_and_says_to_pass_model(ingest: Ingest) -> None:
    answer = ingest.upload(BURSTGPT.read_bytes(), ingest.user_token(_user()))
    assert answer.status == 400, answer.body
    error = answer.body["error"]
    assert error["code"] == "bad_model_mapping"
    assert "model=" in error["message"]
    assert error["retryable"] is False


@pytest.mark.parametrize(
    ("data", "params", "code", "says"),
    [
        (b"hello,world\n1,2\n", {}, "unknown_format", "expected the native"),
        (b"  \n", {}, "invalid_request", "empty"),
        (b"{}", {"format": "xlsx"}, "invalid_request", "expected one of auto"),
        (b"{}", {"model": "gpt-4"}, "bad_model_mapping", "provider:model"),
        (_fixture("openai_usage_truncated.json"), {}, "import_failed", "truncated"),
    ],
)
def test_unreadable_uploads_are_400_with_what_was_expected(
    ingest: Ingest, data: bytes, params: dict[str, str], code: str, says: str
) -> None:
    answer = ingest.upload(data, ingest.user_token(_user()), **params)
    assert answer.status == 400, answer.body
    assert answer.body["error"]["code"] == code
    assert says in answer.body["error"]["message"]


def test_no_token_or_a_bad_token_is_401_and_never_echoed(ingest: Ingest) -> None:
    data = _fixture("native_valid.csv")
    other_secret = secrets.token_urlsafe(48)
    stranger = jwt.encode(
        {"sub": "mallory", "exp": int(time.time()) + 600}, other_secret, algorithm="HS256"
    )
    foreign_demo = TokenVerifier(
        AuthSettings(demo_mode=True, demo_secret=other_secret)
    ).issue_demo_session_token(new_demo_user_id())
    bad_tokens = [stranger, foreign_demo, "not-a-jwt-" + secrets.token_hex(8)]
    answers = [ingest.upload(data, None)]
    answers += [ingest.upload(data, token) for token in bad_tokens]
    answers.append(
        ingest.call("POST", "/", data, {"Authorization": f"Basic {secrets.token_hex(8)}"})
    )
    answers.append(ingest.call("GET", "/api/usage"))
    for answer in answers:
        assert answer.status == 401, answer.body
        assert answer.body["error"]["code"] == "unauthenticated"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    log = ingest.log_text()
    for token, answer in zip(bad_tokens, answers[1:], strict=False):
        assert token not in answer.raw.decode()
        assert token not in log


def test_over_the_size_limit_is_413_before_the_body_is_read(ingest: Ingest) -> None:
    token = ingest.user_token(_user())
    # Declare a body over the limit and send only its first bytes: the answer comes
    # without the server waiting for the rest.
    conn = http.client.HTTPConnection(HOST, ingest.port, timeout=30)
    try:
        conn.putrequest("POST", "/api/usage")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "text/csv")
        conn.putheader("Content-Length", str(LIMIT + 1))
        conn.endheaders(b"timestamp,provider,model,input_tokens,output_tokens\n")
        answer = _answer(conn.getresponse())
    finally:
        conn.close()
    assert answer.status == 413, answer.body
    assert answer.body["error"]["code"] == "too_large"
    assert f"{LIMIT:,}" in answer.body["error"]["message"]

    # A chunked body declares no length: reading it stops at the limit.
    chunked = ingest.call(
        "POST",
        "/",
        iter([b"x" * 65536] * (LIMIT // 65536 + 1)),
        {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        encode_chunked=True,
    )
    assert chunked.status == 413, chunked.body
    assert chunked.body["error"]["code"] == "too_large"


def test_unsupported_content_types_are_415(ingest: Ingest) -> None:
    token = ingest.user_token(_user())
    data = _fixture("native_valid.csv")
    for content_type in ("image/png", "application/x-www-form-urlencoded"):
        answer = ingest.upload(data, token, content_type=content_type)
        assert answer.status == 415, answer.body
        assert answer.body["error"]["code"] == "unsupported_media_type"
        assert "multipart/form-data" in answer.body["error"]["message"]
    gzipped = ingest.call(
        "POST",
        "/",
        data,
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "text/csv",
            "Content-Encoding": "gzip",
        },
    )
    assert gzipped.status == 415


def test_wrong_method_is_405_and_unknown_path_404(ingest: Ingest) -> None:
    headers = {"Authorization": f"Bearer {ingest.user_token(_user())}"}
    for method in ("PUT", "DELETE", "PATCH"):
        answer = ingest.call(method, "/", b"", headers)
        assert answer.status == 405, answer.body
        assert answer.body["error"]["code"] == "method_not_allowed"
        assert "POST" in answer.headers["allow"]
    missing = ingest.call("POST", "/api/other", b"{}", headers)
    assert missing.status == 404
    assert missing.body["error"]["code"] == "not_found"


# ---------------------------------------------------------------- CORS and scoping


def test_cors_preflight_only_for_allowed_origins(ingest: Ingest) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    allowed = ingest.call("OPTIONS", "/", headers={**preflight, "Origin": ALLOWED_ORIGIN})
    assert allowed.status == 204
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type"} <= {h.strip() for h in allowed_headers.split(",")}

    other = ingest.call("OPTIONS", "/", headers={**preflight, "Origin": OTHER_ORIGIN})
    assert other.status == 204
    assert not any(name.startswith("access-control-") for name in other.headers)

    token = ingest.user_token(_user())
    refused = ingest.call("GET", "/", headers={"Origin": ALLOWED_ORIGIN})
    assert refused.status == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED_ORIGIN  # page reads the 401
    listed = ingest.call(
        "GET", "/", headers={"Origin": ALLOWED_ORIGIN, "Authorization": f"Bearer {token}"}
    )
    assert listed.status == 200
    assert listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    foreign = ingest.call(
        "GET", "/", headers={"Origin": OTHER_ORIGIN, "Authorization": f"Bearer {token}"}
    )
    assert "access-control-allow-origin" not in foreign.headers


def test_one_users_upload_never_shows_in_anothers(ingest: Ingest, db: firestore.Client) -> None:
    alice, bob = _user(), _user()
    data = _fixture("native_valid.jsonl")
    first = ingest.upload(data, ingest.user_token(alice), content_type="application/x-ndjson")
    assert first.status == 201, first.body
    bob_view = ingest.overview(ingest.user_token(bob))
    assert bob_view["items"] == []
    assert bob_view["requests"] == 0
    assert UsageStore(db, bob).overview().uploads == ()
    # the content hash is per user: Bob's copy of the same file is his own, not a duplicate
    second = ingest.upload(data, ingest.user_token(bob), content_type="application/x-ndjson")
    assert (second.status, second.body["duplicate"]) == (201, False)
    alice_view = ingest.overview(ingest.user_token(alice))
    assert [item["upload_id"] for item in alice_view["items"]] == [first.body["upload_id"]]


def test_logs_name_user_and_upload_never_the_token_or_the_file(ingest: Ingest) -> None:
    user = _user()
    token = ingest.user_token(user)
    marker = f"feature-{secrets.token_hex(6)}"
    data = (
        b"timestamp,provider,model,input_tokens,output_tokens,feature\n"
        b"2025-03-01T09:00:00Z,openai,gpt-4o,1000,100," + marker.encode() + b"\n"
    )
    answer = ingest.upload(data, token)
    assert answer.status == 201, answer.body
    records = [json.loads(line) for line in ingest.log_text().splitlines() if line.startswith("{")]
    stored = [r for r in records if r.get("message") == "usage upload stored"]
    assert any(
        r.get("user_id") == user and r.get("upload_id") == answer.body["upload_id"] for r in stored
    )
    log = ingest.log_text()
    assert token not in log
    assert marker not in log


# ---------------------------------------------------------------- Firestore down


def test_firestore_unavailable_is_a_retryable_503(
    processes: ProcessGroup, emulator_env: EmulatorEnv
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind((HOST, 0))
        dead_host = f"{HOST}:{closed.getsockname()[1]}"
        broken = _start_ingest(
            processes,
            emulator_env,
            "ingest_usage-no-firestore",
            FIRESTORE_EMULATOR_HOST=dead_host,
            INGEST_STORE_DEADLINE_SECONDS="1",
        )
        answer = broken.upload(_fixture("native_valid.csv"), broken.user_token(_user()))
    assert answer.status == 503, answer.body
    assert answer.body["error"]["code"] == "unavailable"
    assert answer.body["error"]["retryable"] is True
    assert "again" in answer.body["error"]["message"]


# ---------------------------------------------------------------- helpers


def _multipart(fields: Mapping[str, str], file: tuple[str, str, bytes]) -> tuple[bytes, str]:
    boundary = f"apex-{secrets.token_hex(8)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    field_name, filename, data = file
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
