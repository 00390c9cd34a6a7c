"""Least privilege: the exact grants of every principal, and nothing public."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from apex_core import names
from infra_cdktf import config
from tests.infra.synth import Stack, Synth, role_base, unprefixed

pytestmark = pytest.mark.infra

PUBSUB_AGENT = "pubsub-service-agent"

# resource type → (the attribute naming the target, the target's kind)
TARGETS = {
    "google_project_iam_member": ("project", "project"),
    "google_pubsub_topic_iam_member": ("topic", "topic"),
    "google_pubsub_subscription_iam_member": ("subscription", "subscription"),
    "google_secret_manager_secret_iam_member": ("secret_id", "secret"),
    "google_cloud_run_v2_service_iam_member": ("name", "service"),
    "google_cloud_run_v2_job_iam_member": ("name", "job"),
    "google_service_account_iam_member": ("service_account_id", "account"),
}

DATASTORE = ("project", "roles/datastore.user")
EXPECTED: dict[str, set[tuple[str, str]]] = {
    config.EDGE_ACCOUNT: {
        DATASTORE,
        ("project", "custom:apexEdgeSubscriptions"),
        (f"topic:{names.REQUESTS_TOPIC}", "roles/pubsub.publisher"),
        (f"topic:{names.EVENTS_TOPIC}", "custom:apexAttachSubscription"),
        (f"secret:{config.JWT_SECRET_ID}", "roles/secretmanager.secretAccessor"),
    },
    config.RUN_AGENT_ACCOUNT: {
        DATASTORE,
        (f"topic:{names.EVENTS_TOPIC}", "roles/pubsub.publisher"),
    },
    config.INGEST_ACCOUNT: {
        DATASTORE,
        (f"secret:{config.JWT_SECRET_ID}", "roles/secretmanager.secretAccessor"),
    },
    config.DEAD_LETTER_ACCOUNT: {
        DATASTORE,
        (f"topic:{names.EVENTS_TOPIC}", "roles/pubsub.publisher"),
    },
    config.PUSH_ACCOUNT: {(f"service:{config.RUN_AGENT_SERVICE}", "roles/run.invoker")},
    config.DLQ_PUSH_ACCOUNT: {(f"service:{config.DEAD_LETTER_SERVICE}", "roles/run.invoker")},
    config.JANITOR_ACCOUNT: {("project", "custom:apexEdgeJanitor")},
    config.SCHEDULER_ACCOUNT: {(f"job:{config.JANITOR_JOB}", "roles/run.invoker")},
    PUBSUB_AGENT: {
        (f"topic:{names.REQUESTS_DLQ_TOPIC}", "roles/pubsub.publisher"),
        (f"subscription:{names.REQUESTS_PUSH_SUBSCRIPTION}", "roles/pubsub.subscriber"),
        (f"account:{config.PUSH_ACCOUNT}", "roles/iam.serviceAccountTokenCreator"),
        (f"account:{config.DLQ_PUSH_ACCOUNT}", "roles/iam.serviceAccountTokenCreator"),
    },
}


def principal(stack: Stack, member: str) -> str:
    if member.endswith("@gcp-sa-pubsub.iam.gserviceaccount.com"):
        assert member.startswith("serviceAccount:service-${data.google_project.")
        return PUBSUB_AGENT
    prefix = "serviceAccount:"
    assert member.startswith(prefix), member
    resource_type, account = stack.resolve(member.removeprefix(prefix))
    assert resource_type == "google_service_account"
    return unprefixed(account["account_id"])


def target(stack: Stack, kind: str, value: str) -> str:
    if kind == "project":
        assert value == "${var.project_id}"
        return "project"
    if kind == "secret":
        return f"secret:{unprefixed(value)}"
    _, block = stack.resolve(value)
    if kind in ("topic", "subscription"):  # named by the application (apex_core.names)
        return f"{kind}:{block['name']}"
    name = block["account_id"] if kind == "account" else block["name"]
    return f"{kind}:{unprefixed(name)}"


def role(stack: Stack, value: str) -> str:
    if value.startswith("${"):
        resource_type, custom = stack.resolve(value)
        assert resource_type == "google_project_iam_custom_role"
        return f"custom:{role_base(custom['role_id'])}"
    return value


def grants(stack: Stack) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for resource_type, (attribute, kind) in TARGETS.items():
        for block in stack.resources(resource_type).values():
            found[principal(stack, block["member"])].add(
                (target(stack, kind, block[attribute]), role(stack, block["role"]))
            )
    return dict(found)


def test_every_principal_holds_exactly_its_expected_grants(synth: Synth) -> None:
    assert grants(synth.app) == EXPECTED


def test_no_other_iam_resources(synth: Synth) -> None:
    for stack in synth.stacks:
        iam_types = {t for t in stack.document.get("resource", {}) if "_iam_" in t}
        # Authoritative *_iam_binding/_iam_policy resources would wipe other grants.
        assert iam_types <= set(TARGETS) | {"google_project_iam_custom_role"}
    assert not grants(synth.foundation)


def test_nothing_is_public(synth: Synth) -> None:
    for stack in synth.stacks:
        text = json.dumps(stack.document)
        assert "allUsers" not in text
        assert "allAuthenticatedUsers" not in text


def test_custom_roles_hold_exactly_their_permissions(synth: Synth) -> None:
    roles = {
        role_base(block["role_id"]): set(block["permissions"])
        for block in synth.app.resources("google_project_iam_custom_role").values()
    }
    assert roles == {
        "apexEdgeSubscriptions": {
            "pubsub.subscriptions.create",
            "pubsub.subscriptions.delete",
            "pubsub.subscriptions.get",
            "pubsub.subscriptions.consume",
            "pubsub.subscriptions.update",
        },
        "apexAttachSubscription": {"pubsub.topics.attachSubscription"},
        "apexEdgeJanitor": {
            "pubsub.subscriptions.delete",
            "pubsub.subscriptions.get",
            "pubsub.subscriptions.list",
        },
    }
    assert "pubsub.subscriptions.list" in roles["apexEdgeJanitor"]
    assert "pubsub.subscriptions.create" not in roles["apexEdgeJanitor"]


def test_only_the_edge_and_ingest_skip_the_invoker_check(synth: Synth) -> None:
    skipping = {
        unprefixed(block["name"])
        for block in synth.app.resources("google_cloud_run_v2_service").values()
        if block.get("invoker_iam_disabled")
    }
    assert skipping == {names.EDGE_SERVICE, config.INGEST_SERVICE}


def test_each_push_identity_is_the_only_invoker_of_its_function(synth: Synth) -> None:
    """Issue 12 item 11: the push-invoked functions take only their subscription's OIDC identity."""
    app = synth.app
    invokers: dict[str, set[str]] = defaultdict(set)
    for block in app.resources("google_cloud_run_v2_service_iam_member").values():
        assert block["role"] == "roles/run.invoker"
        invokers[block["name"]].add(block["member"])
    pushed = [
        block
        for block in app.resources("google_pubsub_subscription").values()
        if "push_config" in block
    ]
    assert len(pushed) == 2
    for subscription in pushed:
        push = subscription["push_config"]
        _, service = app.resolve(push["push_endpoint"])
        assert service["invoker_iam_disabled"] is False, service["name"]
        assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
        oidc_account = push["oidc_token"]["service_account_email"]
        service_name = push["push_endpoint"].removesuffix(".uri}") + ".name}"
        assert invokers[service_name] == {f"serviceAccount:{oidc_account}"}, service["name"]


def test_only_the_services_that_verify_user_tokens_read_the_secret(synth: Synth) -> None:
    """Issue 12 item 7: the HS256 secret reaches the edge and ingest_usage (they verify the
    app's JWTs themselves) and no other workload, by env or by grant."""
    readers = set()
    for block in synth.app.resources("google_cloud_run_v2_service").values():
        (container,) = block["template"]["containers"]
        if any(entry["name"] == "JWT_SECRET" for entry in container["env"]):
            readers.add(
                principal(synth.app, f"serviceAccount:{block['template']['service_account']}")
            )
    granted = {
        principal(synth.app, block["member"])
        for block in synth.app.resources("google_secret_manager_secret_iam_member").values()
    }
    assert readers == granted == {config.EDGE_ACCOUNT, config.INGEST_ACCOUNT}
