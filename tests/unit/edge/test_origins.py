"""The Origin check of the handshake (edge_ws.origins)."""

from __future__ import annotations

import pytest

from edge_ws.origins import OriginRefused, check_origin, parse_allowed_origins, plain_host

OWN = "127.0.0.1:8080"


def test_no_origin_is_a_non_browser_client_and_is_allowed() -> None:
    check_origin([], host=OWN, allowed=None)
    check_origin([], host=None, allowed=frozenset({"https://apex.example.com"}))


def test_by_default_only_the_pages_own_origin() -> None:
    check_origin(["http://127.0.0.1:8080"], host=OWN, allowed=None)
    check_origin(["https://APEX.example.com"], host="apex.example.com", allowed=None)
    for origin in (
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8080.evil.example",
        "https://evil.example",
        "null",
        "",
        "http://user@127.0.0.1:8080",
    ):
        with pytest.raises(OriginRefused):
            check_origin([origin], host=OWN, allowed=None)
    with pytest.raises(OriginRefused):
        check_origin(["http://127.0.0.1:8080"], host=None, allowed=None)


def test_allowed_origins_replace_the_default() -> None:
    allowed = parse_allowed_origins("https://apex.example.com")
    check_origin(["https://apex.example.com"], host="internal:8080", allowed=allowed)
    with pytest.raises(OriginRefused):
        check_origin(["http://internal:8080"], host="internal:8080", allowed=allowed)
    with pytest.raises(OriginRefused):
        check_origin(["http://apex.example.com"], host=OWN, allowed=allowed)  # scheme counts


def test_several_origin_headers_are_refused() -> None:
    with pytest.raises(OriginRefused, match="one Origin"):
        check_origin(["http://127.0.0.1:8080"] * 2, host=OWN, allowed=None)


def test_parse_allowed_origins() -> None:
    assert parse_allowed_origins(None) is None
    assert parse_allowed_origins(" , ") is None
    assert parse_allowed_origins("https://A.example/, http://b:81") == frozenset(
        {"https://a.example", "http://b:81"}
    )
    with pytest.raises(ValueError, match="ALLOWED_ORIGINS"):
        parse_allowed_origins("https://a.example/app")


def test_a_host_with_anything_but_a_name_and_port_is_not_used() -> None:
    assert plain_host("Apex.Example.com:443") == "apex.example.com:443"
    assert plain_host("[::1]:8080") == "[::1]:8080"
    for bad in ("a b", "x;script-src *", "x/y", "", None, "a@b"):
        assert plain_host(bad) is None
