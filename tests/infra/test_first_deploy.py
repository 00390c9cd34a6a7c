"""What a first ``cdktf deploy`` on a fresh project needs (issue 9), read from the synth.

Independent stacks, the edge waiting for what it uses at start-up, the APIs
the stack's data sources need, an existing Firestore database, re-creatable
custom roles, a certificate that can change with the domain, a name prefix,
relocatable state, sampled load-balancer logs, stable output names and
gunicorn sized to each service's concurrency.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from apex_core import names
from infra_cdktf import config
from tests.infra.synth import Block, Synth, prefixed, unprefixed

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]

# Names the application code uses as they are (apex_core.names), so they carry no prefix.
APP_OWNED = {"google_pubsub_topic", "google_pubsub_subscription", "google_firestore_database"}
NAME_ATTRIBUTES = ("name", "account_id", "repository_id", "secret_id")


def edge(synth: Synth) -> Block:
    return synth.app.one("google_cloud_run_v2_service", name=prefixed(names.EDGE_SERVICE))


def address(synth: Synth, resource_type: str, **attributes: str) -> str:
    """``type.key`` of the single resource of ``resource_type`` with ``attributes``."""
    block = synth.app.one(resource_type, **attributes)
    (key,) = [k for k, v in synth.app.resources(resource_type).items() if v is block]
    return f"{resource_type}.{key}"


def test_the_stacks_do_not_depend_on_each_other(synth: Synth) -> None:
    # `cdktf deploy apex-app` and `cdktf destroy apex-foundation` select one stack each.
    for stack in synth.manifest["stacks"].values():
        assert stack["dependencies"] == [], stack["name"]
    for stack in synth.stacks:
        assert "terraform_remote_state" not in stack.document.get("data", {})


def test_edge_waits_for_its_topics_grants_and_firestore(synth: Synth) -> None:
    depends_on = set(edge(synth)["depends_on"])
    expected = {
        address(synth, "google_pubsub_topic", name=names.EVENTS_TOPIC),
        address(synth, "google_pubsub_topic", name=names.REQUESTS_TOPIC),
        "google_firestore_database.firestore_database",
    }
    assert expected <= depends_on
    granted_to_edge = {
        f"{resource_type}.{key}"
        for resource_type in (
            "google_project_iam_member",
            "google_pubsub_topic_iam_member",
            "google_secret_manager_secret_iam_member",
        )
        for key, block in synth.app.resources(resource_type).items()
        if block["member"].startswith("serviceAccount:${google_service_account.")
        and unprefixed(
            synth.app.resolve(block["member"].removeprefix("serviceAccount:"))[1]["account_id"]
        )
        == config.EDGE_ACCOUNT
    }
    assert len(granted_to_edge) == 5  # datastore, custom role, publish, attach, secret
    assert granted_to_edge <= depends_on


def test_the_subscription_retry_fits_the_startup_probe(synth: Synth) -> None:
    (container,) = edge(synth)["template"]["containers"]
    probe = container["startup_probe"]
    window = probe["period_seconds"] * probe["failure_threshold"]
    assert window == config.EDGE_STARTUP_PERIOD_SECONDS * config.EDGE_STARTUP_FAILURES
    env = {entry["name"]: entry.get("value") for entry in container["env"]}
    assert float(env["EDGE_SUBSCRIBE_RETRY_SECONDS"]) == config.EDGE_SUBSCRIBE_RETRY_SECONDS
    assert 0 < config.EDGE_SUBSCRIBE_RETRY_SECONDS < window


def test_functions_wait_for_firestore(synth: Synth) -> None:
    for block in synth.app.resources("google_cloud_run_v2_service").values():
        assert "google_firestore_database.firestore_database" in block["depends_on"], block["name"]


def test_apis_include_cloud_resource_manager(synth: Synth) -> None:
    # The google_project data source and the project IAM grants call it.
    apis = {b["service"] for b in synth.foundation.resources("google_project_service").values()}
    assert "cloudresourcemanager.googleapis.com" in apis
    assert synth.app.document["data"]["google_project"]
    assert synth.app.resources("google_project_iam_member")


def test_an_existing_firestore_database_can_be_used(synth: Synth) -> None:
    database = synth.app.resources("google_firestore_database")["firestore_database"]
    assert database["count"] == "${var.create_firestore_database ? 1 : 0}"
    assert synth.app.document["variable"]["create_firestore_database"]["default"] is True
    # Index and field name the database, so they work whether the stack created it or not.
    for resource_type in ("google_firestore_index", "google_firestore_field"):
        for block in synth.app.resources(resource_type).values():
            assert block["database"] == "(default)"
            assert block["depends_on"] == ["google_firestore_database.firestore_database"]


def test_custom_role_ids_carry_prefix_and_suffix(synth: Synth) -> None:
    roles = synth.app.resources("google_project_iam_custom_role").values()
    assert len(roles) == 3
    for role in roles:
        assert role["role_id"].startswith('${replace(var.name_prefix, "-", "_")}')
        assert role["role_id"].endswith("${var.role_suffix}")
    suffix = synth.app.document["variable"]["role_suffix"]
    assert suffix["default"] == ""
    (rule,) = suffix["validation"]
    assert config.ROLE_SUFFIX_PATTERN in rule["condition"]


def test_certificate_name_follows_the_domain_and_is_replaced_safely(synth: Synth) -> None:
    (certificate,) = synth.app.resources("google_compute_managed_ssl_certificate").values()
    assert certificate["name"] == prefixed("apex-cert-${substr(sha256(var.domain), 0, 8)}")
    assert certificate["lifecycle"] == {"create_before_destroy": True}


def test_every_owned_name_carries_the_prefix(synth: Synth) -> None:
    checked = 0
    for stack in synth.stacks:
        for resource_type, blocks in stack.document["resource"].items():
            if resource_type in APP_OWNED:
                continue
            for block in blocks.values():
                for attribute in NAME_ATTRIBUTES:
                    value = block.get(attribute)
                    if isinstance(value, str) and not value.startswith("${google_"):
                        unprefixed(value)
                        checked += 1
    assert checked >= 30
    for stack in synth.stacks:
        prefix = stack.document["variable"]["name_prefix"]
        (rule,) = prefix["validation"]
        assert config.NAME_PREFIX_PATTERN in rule["condition"]
    # The longest service account id must still fit in 30 characters with 8 more.
    longest = max(len(getattr(config, n)) for n in dir(config) if n.endswith("_ACCOUNT"))
    assert longest + 8 <= 30


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [
        ("", True),
        ("stg-", True),
        ("prod1-", True),
        ("abcdefg-", True),
        ("abcdefgh-", False),
        ("Stg-", False),
        ("stg", False),
        ("1st-", False),
        ("-", False),
    ],
)
def test_name_prefix_pattern(prefix: str, ok: bool) -> None:
    assert (re.match(config.NAME_PREFIX_PATTERN, prefix) is not None) is ok


def test_state_is_local_and_relative_by_default(synth: Synth) -> None:
    for name, stack in (("apex-foundation", synth.foundation), ("apex-app", synth.app)):
        backend = stack.document["terraform"]["backend"]
        assert backend == {"local": {"path": f"../../../terraform.{name}.tfstate"}}


def test_state_settings_from_the_environment() -> None:
    assert config.StateSettings.from_env({}) == config.StateSettings(bucket=None, prefix="apex")
    remote = config.StateSettings.from_env(
        {"APEX_STATE_BUCKET": "my-tf-state", "APEX_STATE_PREFIX": "apex-staging"}
    )
    assert remote == config.StateSettings(bucket="my-tf-state", prefix="apex-staging")


def test_load_balancer_log_sampling_is_a_setting(synth: Synth) -> None:
    variable = synth.app.document["variable"]["lb_log_sample_rate"]
    assert variable["default"] == config.DEFAULT_LB_LOG_SAMPLE_RATE < 1
    backends = synth.app.resources("google_compute_backend_service").values()
    assert backends
    for backend in backends:
        assert backend["log_config"] == {"enable": True, "sample_rate": "${var.lb_log_sample_rate}"}


def test_outputs_have_stable_names(synth: Synth) -> None:
    assert {"load_balancer_ip", "websocket_url", "certificate_name", "edge_service"} == set(
        synth.app.document["output"]
    )
    assert {"repository", "jwt_secret_id"} == set(synth.foundation.document["output"])


def test_gunicorn_threads_match_each_functions_concurrency(synth: Synth) -> None:
    functions = [
        block
        for block in synth.app.resources("google_cloud_run_v2_service").values()
        if block["name"] != prefixed(names.EDGE_SERVICE)
    ]
    assert len(functions) == 3
    for block in functions:
        template = block["template"]
        (container,) = template["containers"]
        env = {entry["name"]: entry.get("value") for entry in container["env"]}
        assert env["WORKERS"] == "1"
        assert env["THREADS"] == str(template["max_instance_request_concurrency"])


STATE_SCRIPT = """
import os, sys
from cdktf import App, TerraformStack
from infra_cdktf.config import StateSettings
app = App(outdir=sys.argv[1])
for name in ("apex-foundation", "apex-app"):
    StateSettings.from_env(os.environ).apply(TerraformStack(app, name), name)
app.synth()
"""


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        (
            {"APEX_STATE_BUCKET": "team-tf-state", "APEX_STATE_PREFIX": "apex-staging"},
            {"gcs": {"bucket": "team-tf-state", "prefix": "apex-staging/apex-app"}},
        ),
        (
            {"APEX_STATE_PREFIX": "apex-staging"},
            {"local": {"path": "../../../terraform.apex-staging.apex-app.tfstate"}},
        ),
    ],
)
def test_state_backend_follows_the_environment(
    tmp_path: Path, env: dict[str, str], backend: dict[str, Any]
) -> None:
    # Only cdktf's core and the backend: seconds, not a full synth.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("APEX_STATE_")}
    result = subprocess.run(
        [sys.executable, "-c", STATE_SCRIPT, str(tmp_path)],
        cwd=REPO_ROOT,
        env={**clean, **env, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads((tmp_path / "stacks" / "apex-app" / "cdk.tf.json").read_text())
    assert document["terraform"]["backend"] == backend
