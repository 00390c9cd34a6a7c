"""Pub/Sub: names from apex_core.names, ordering, retries, dead letters and OIDC push."""

from __future__ import annotations

import pytest

from apex_core import names
from infra_cdktf import config
from tests.infra.synth import Block, Synth, unprefixed

pytestmark = pytest.mark.infra


def subscription(synth: Synth, name: str) -> Block:
    return synth.app.one("google_pubsub_subscription", name=name)


def referenced_name(synth: Synth, reference: str) -> str:
    _, block = synth.app.resolve(reference)
    name: str = block["name"]
    return name


def test_topics_are_named_by_apex_core(synth: Synth) -> None:
    topics = {block["name"] for block in synth.app.resources("google_pubsub_topic").values()}
    assert topics == {names.REQUESTS_TOPIC, names.REQUESTS_DLQ_TOPIC, names.EVENTS_TOPIC}


def test_requests_push_subscription(synth: Synth) -> None:
    push = subscription(synth, names.REQUESTS_PUSH_SUBSCRIPTION)
    assert referenced_name(synth, push["topic"]) == names.REQUESTS_TOPIC
    assert push["enable_message_ordering"] is True
    assert push["ack_deadline_seconds"] == names.PUSH_ACK_DEADLINE_SECONDS == 600
    retry = push["retry_policy"]
    assert retry == {"minimum_backoff": "10s", "maximum_backoff": "600s"}
    dead_letter = push["dead_letter_policy"]
    assert referenced_name(synth, dead_letter["dead_letter_topic"]) == names.REQUESTS_DLQ_TOPIC
    assert dead_letter["max_delivery_attempts"] == names.MAX_DELIVERY_ATTEMPTS == 5


def test_requests_are_pushed_to_run_agent_with_an_oidc_token(synth: Synth) -> None:
    config_ = subscription(synth, names.REQUESTS_PUSH_SUBSCRIPTION)["push_config"]
    resource_type, run_agent = synth.app.resolve(config_["push_endpoint"])
    assert resource_type == "google_cloud_run_v2_service"
    assert unprefixed(run_agent["name"]) == config.RUN_AGENT_SERVICE
    oidc = config_["oidc_token"]
    _, account = synth.app.resolve(oidc["service_account_email"])
    assert unprefixed(account["account_id"]) == config.PUSH_ACCOUNT
    assert oidc["audience"] == config_["push_endpoint"]


def test_dead_letters_are_pushed_to_their_handler(synth: Synth) -> None:
    dlq = subscription(synth, names.REQUESTS_DLQ_PUSH_SUBSCRIPTION)
    assert referenced_name(synth, dlq["topic"]) == names.REQUESTS_DLQ_TOPIC
    _, handler = synth.app.resolve(dlq["push_config"]["push_endpoint"])
    assert unprefixed(handler["name"]) == config.DEAD_LETTER_SERVICE
    _, account = synth.app.resolve(dlq["push_config"]["oidc_token"]["service_account_email"])
    assert unprefixed(account["account_id"]) == config.DLQ_PUSH_ACCOUNT
    assert "dead_letter_policy" not in dlq


def test_stack_creates_no_edge_subscriptions(synth: Synth) -> None:
    # apex-events-edge-<instance> subscriptions belong to the running edge instances.
    subscriptions = {
        block["name"] for block in synth.app.resources("google_pubsub_subscription").values()
    }
    assert subscriptions == {names.REQUESTS_PUSH_SUBSCRIPTION, names.REQUESTS_DLQ_PUSH_SUBSCRIPTION}
