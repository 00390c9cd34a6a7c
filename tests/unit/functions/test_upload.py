"""The pure part of usage ingest (functions/upload.py): settings, request checks, id, summary."""

from __future__ import annotations

from typing import Any

import pytest

from apex_core.cost import BadModelMapping, ModelMapping, UnknownUsageFormat, accumulate
from apex_core.env import SettingsError
from apex_core.errors import AuthenticationError
from functions import upload
from functions.errors import BadUpload, TooLarge, UnsupportedMediaType
from tests.usage_fixtures import (
    MALFORMED_NATIVE_REJECTIONS,
    MALFORMED_NATIVE_ROWS,
    USAGE_FIXTURES,
)

TRACE = (
    b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,10,2,12,x\n"
)


def test_settings_defaults_and_overrides() -> None:
    assert upload.max_upload_bytes({}) == 32 * 1024 * 1024
    assert upload.max_upload_bytes({"INGEST_MAX_BYTES": "1024"}) == 1024
    assert upload.store_deadline_seconds({}) == 20.0
    assert upload.store_deadline_seconds({"INGEST_STORE_DEADLINE_SECONDS": "1.5"}) == 1.5
    assert upload.allowed_origins({}) == {"http://127.0.0.1:8080", "http://localhost:8080"}
    assert upload.allowed_origins({"ALLOWED_ORIGINS": " https://a.example/ ,,http://b:1"}) == {
        "https://a.example",
        "http://b:1",
    }
    assert upload.allowed_origins({"ALLOWED_ORIGINS": ""}) == frozenset()


@pytest.mark.parametrize("value", ["0", "-1", "lots", "inf", "nan", "1.5"])
def test_a_bad_size_limit_is_refused_by_name(value: str) -> None:
    with pytest.raises(SettingsError, match="INGEST_MAX_BYTES must be a whole number"):
        upload.max_upload_bytes({"INGEST_MAX_BYTES": value})


def test_the_upload_token_is_required_and_never_falls_back() -> None:
    assert upload.upload_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert upload.upload_token("  bearer   tok ") == "tok"
    for header in (None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "tok"):
        with pytest.raises(AuthenticationError) as caught:
            upload.upload_token(header)
        assert "dXNlcjpwYXNz" not in caught.value.message


def test_body_kind() -> None:
    for raw in ("", "text/csv", "text/plain", "application/json", "application/octet-stream"):
        assert upload.body_kind(raw, None) == "raw"
    assert upload.body_kind("application/vnd.ms-excel", "identity") == "raw"
    assert upload.body_kind("multipart/form-data", None) == "multipart"
    for refused in ("image/png", "application/x-www-form-urlencoded", "application/zip"):
        with pytest.raises(UnsupportedMediaType, match="multipart/form-data"):
            upload.body_kind(refused, None)
    with pytest.raises(UnsupportedMediaType, match="uncompressed"):
        upload.body_kind("text/csv", "gzip")


def test_declared_size() -> None:
    upload.check_declared_size(None, 10)
    upload.check_declared_size(10, 10)
    with pytest.raises(TooLarge, match="limit of 10 bytes"):
        upload.check_declared_size(11, 10)


def test_source_name_is_a_printable_base_name() -> None:
    assert upload.source_name("C:\\Users\\me\\usage.csv") == "usage.csv"
    assert upload.source_name("../../etc/passwd") == "passwd"
    assert upload.source_name("a\x00b\nc.csv") == "abc.csv"
    assert upload.source_name(None) == upload.source_name("  ") == "upload"
    assert len(upload.source_name("x" * 1000)) == upload.MAX_SOURCE_CHARS


def test_upload_id_depends_on_content_format_and_a_traces_mapping() -> None:
    mapping = ModelMapping.parse("openai:gpt-4o-mini")
    other = ModelMapping.parse("openai:gpt-4o")
    base = upload.upload_id_for(b"data", "native", None)
    assert base == upload.upload_id_for(b"data", "native", None)
    assert base.startswith("upload-")
    assert len(base) == len("upload-") + 32
    assert base != upload.upload_id_for(b"data2", "native", None)
    assert base != upload.upload_id_for(b"data", "openai-usage", None)
    # only a trace reads the mapping, so only there does it change the id
    assert base == upload.upload_id_for(b"data", "native", mapping)
    trace = upload.upload_id_for(b"data", "trace", mapping)
    assert trace != upload.upload_id_for(b"data", "trace", other)
    same = ModelMapping.parse("*=openai:gpt-4o-mini")
    assert trace == upload.upload_id_for(b"data", "trace", same)


def test_open_upload_detects_the_format_and_refuses_what_it_cannot_read() -> None:
    result, upload_id = upload.open_upload(
        TRACE, source="t.csv", format=None, model="openai:gpt-4o-mini"
    )
    result.close()
    assert result.format == "trace"
    assert upload_id == upload.upload_id_for(
        TRACE, "trace", ModelMapping.parse("openai:gpt-4o-mini")
    )
    with pytest.raises(BadUpload, match="empty"):
        upload.open_upload(b" \n", source="x", format=None, model=None)
    with pytest.raises(BadUpload, match="expected one of auto"):
        upload.open_upload(b"{}", source="x", format="xlsx", model=None)
    with pytest.raises(BadModelMapping):
        upload.open_upload(TRACE, source="x", format=None, model="gpt-4")
    with pytest.raises(UnknownUsageFormat):
        upload.open_upload(b"a,b\n1,2\n", source="x", format=None, model=None)


def test_summary_of_an_import_with_rejections() -> None:
    answer = _summary((USAGE_FIXTURES / "native_malformed.csv").read_bytes(), "bad.csv")
    assert answer["rows"] == MALFORMED_NATIVE_ROWS
    assert [(r["line"], r["reason"]) for r in answer["rejections"]] == MALFORMED_NATIVE_REJECTIONS
    assert answer["requests"] == 2
    assert answer["models"] == ["openai:gpt-4o"]
    assert (answer["first_day"], answer["last_day"]) == ("2025-03-01", "2025-03-01")
    assert set(answer) == {
        "upload_id",
        "duplicate",
        "source",
        "format",
        "rows",
        "rejections",
        "requests",
        "first_day",
        "last_day",
        "models",
        "notes",
    }


def test_nothing_imported_says_why() -> None:
    header_only = b"timestamp,provider,model,input_tokens,output_tokens\n"
    assert "no usage rows" in upload.nothing_imported(_summary(header_only, "h.csv")).message
    answer = _summary(header_only + b"2025-03-01T00:00:00Z,openai,gpt-4o,x,1\n", "b.csv")
    error = upload.nothing_imported(answer)
    assert error.code == "no_usable_rows"
    assert "all 1 rows were rejected (bad number in input_tokens (1))" in error.message
    assert error.summary is answer
    lines = (USAGE_FIXTURES / "openai_usage_week.csv").read_text().splitlines()
    only_empty = "\n".join([lines[0], *(line for line in lines if line.endswith(",,,,"))]) + "\n"
    empty = _summary(only_empty.encode(), "idle.csv")
    assert (empty["rows"]["empty_buckets"], empty["rows"]["rejected"]) == (1, 0)
    assert "all 1 rows are empty buckets" in upload.nothing_imported(empty).message


def test_model_hint_names_the_http_parameter() -> None:
    assert "model=" in upload.model_hint("a trace names no billed model")


def _summary(data: bytes, source: str) -> dict[str, Any]:
    """The upload answer for ``data``: opened, accumulated and summarised as ingest does."""
    result, upload_id = upload.open_upload(data, source=source, format=None, model=None)
    return upload.summary(
        upload_id=upload_id, duplicate=False, source=source, format=result.format,
        rollup=accumulate(result),
    )  # fmt: skip
