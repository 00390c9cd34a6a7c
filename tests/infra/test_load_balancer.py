"""The load balancer: EXTERNAL_MANAGED, /ws header forwarding, routes, redirect, Cloud Armor."""

from __future__ import annotations

from typing import Any

import pytest

from infra_cdktf.config import ROUTE_HEADER, SPOOFABLE_HEADERS
from tests.infra.synth import Block, Synth, prefixed, unprefixed, walk

pytestmark = pytest.mark.infra

NEVER_REMOVED = ("authorization", "cookie")


def https_map(synth: Synth) -> Block:
    return synth.app.one("google_compute_url_map", name=prefixed("apex-https"))


def route_rules(synth: Synth) -> list[Block]:
    (matcher,) = https_map(synth)["path_matcher"]
    rules: list[Block] = matcher["route_rules"]
    return rules


def backend_of(synth: Synth, rule: Block) -> str:
    _, backend = synth.app.resolve(rule["service"])
    return unprefixed(backend["name"])


def rule_matching(synth: Synth, **match: str) -> Block:
    found = [rule for rule in route_rules(synth) if match in rule["match_rules"]]
    assert len(found) == 1, f"{len(found)} route rules match {match}"
    return found[0]


def test_ws_and_ws_slash_route_to_the_edge_with_a_marker(synth: Synth) -> None:
    rule = rule_matching(synth, full_path_match="/ws")
    assert {"full_path_match": "/ws/"} in rule["match_rules"]
    assert backend_of(synth, rule) == "apex-edge-backend"
    action = rule["header_action"]
    assert {"header_name": ROUTE_HEADER, "header_value": "ws", "replace": True} in action[
        "request_headers_to_add"
    ]
    assert set(SPOOFABLE_HEADERS) <= set(action["request_headers_to_remove"])
    assert {"X-Forwarded-User", "X-Apex-User", "X-Goog-Authenticated-User-Email"} <= set(
        action["request_headers_to_remove"]
    )
    assert "route_action" not in rule, "no timeout or rewrite on the socket route"


def test_ws_route_is_checked_before_the_catch_all(synth: Synth) -> None:
    ws = rule_matching(synth, full_path_match="/ws")
    catch_all = rule_matching(synth, prefix_match="/")
    assert ws["priority"] < catch_all["priority"]
    assert backend_of(synth, catch_all) == "apex-edge-backend"


def test_usage_routes_to_ingest(synth: Synth) -> None:
    rule = rule_matching(synth, full_path_match="/api/usage")
    assert {"prefix_match": "/api/usage/"} in rule["match_rules"]
    assert backend_of(synth, rule) == "apex-ingest-backend"


def test_every_route_overwrites_the_marker_and_strips_trust_headers(synth: Synth) -> None:
    rules = route_rules(synth)
    assert len(rules) == 3
    for rule in rules:
        added = rule["header_action"]["request_headers_to_add"]
        assert [h["header_name"] for h in added if h["replace"]] == [ROUTE_HEADER]
        assert set(SPOOFABLE_HEADERS) <= set(rule["header_action"]["request_headers_to_remove"])
    # Every host goes through the path matcher, so no request skips the rules above.
    assert https_map(synth)["host_rule"] == [{"hosts": ["*"], "path_matcher": "apex"}]


def test_credentials_and_websocket_headers_are_never_removed(synth: Synth) -> None:
    lists = [
        (path, value)
        for stack in synth.stacks
        for path, value in walk(stack.document)
        if path.rsplit(".", 1)[-1].endswith("headers_to_remove")
    ]
    assert lists, "expected header actions in the synthesized stack"
    for path, headers in lists:
        for header in headers:
            lowered = header.lower()
            assert lowered not in NEVER_REMOVED, f"{path} removes {header}"
            assert not lowered.startswith("sec-websocket-"), f"{path} removes {header}"


def test_backends_and_forwarding_rules_are_external_managed(synth: Synth) -> None:
    backends = synth.app.resources("google_compute_backend_service")
    rules = synth.app.resources("google_compute_global_forwarding_rule")
    assert len(backends) == 2
    assert len(rules) == 2
    for block in [*backends.values(), *rules.values()]:
        assert block["load_balancing_scheme"] == "EXTERNAL_MANAGED", block["name"]


def test_serverless_backends_have_no_timeout_and_no_iap(synth: Synth) -> None:
    for backend in synth.app.resources("google_compute_backend_service").values():
        (group,) = backend["backend"]
        neg_type, neg = synth.app.resolve(group["group"])
        assert neg_type == "google_compute_region_network_endpoint_group"
        assert neg["network_endpoint_type"] == "SERVERLESS"
        assert "timeout_sec" not in backend
        assert "iap" not in backend
        assert backend["protocol"] != "HTTP2", "HTTP/2 end to end breaks WebSockets"


def test_backends_point_at_the_edge_and_ingest_services(synth: Synth) -> None:
    services = {
        unprefixed(backend["name"]): unprefixed(
            synth.app.resolve(
                synth.app.resolve(backend["backend"][0]["group"])[1]["cloud_run"]["service"]
            )[1]["name"]
        )
        for backend in synth.app.resources("google_compute_backend_service").values()
    }
    assert services == {
        "apex-edge-backend": "apex-edge",
        "apex-ingest-backend": "apex-ingest-usage",
    }


def test_https_listener_and_http_redirect(synth: Synth) -> None:
    app = synth.app
    https = app.one("google_compute_global_forwarding_rule", port_range="443")
    _, proxy = app.resolve(https["target"])
    assert app.resolve(proxy["url_map"])[1]["name"] == prefixed("apex-https")
    (cert_ref,) = proxy["ssl_certificates"]
    _, cert = app.resolve(cert_ref)
    assert cert["managed"]["domains"] == ["${var.domain}"]

    http = app.one("google_compute_global_forwarding_rule", port_range="80")
    _, http_proxy = app.resolve(http["target"])
    _, redirect = app.resolve(http_proxy["url_map"])
    assert redirect["default_url_redirect"]["https_redirect"] is True
    assert "default_service" not in redirect
    assert https["ip_address"] == http["ip_address"]


def test_cloud_armor_rate_limits_per_ip_on_every_backend(synth: Synth) -> None:
    (policy_key,) = synth.app.resources("google_compute_security_policy")
    policy = synth.app.resources("google_compute_security_policy")[policy_key]
    limits: list[dict[str, Any]] = [
        rule["rate_limit_options"]
        for rule in policy["rule"]
        if rule["action"] in ("rate_based_ban", "throttle")
    ]
    assert len(limits) == 1
    assert limits[0]["enforce_on_key"] == "IP"
    assert limits[0]["exceed_action"].startswith("deny(")
    reference = f"${{google_compute_security_policy.{policy_key}.id}}"
    for backend in synth.app.resources("google_compute_backend_service").values():
        assert backend["security_policy"] == reference
