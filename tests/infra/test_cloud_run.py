"""Cloud Run: the edge's socket-friendly settings, the functions' ingress and identities."""

from __future__ import annotations

import pytest

from apex_core import names
from infra_cdktf import config
from tests.infra.synth import Block, Synth, prefixed

pytestmark = pytest.mark.infra


def service(synth: Synth, name: str) -> Block:
    return synth.app.one("google_cloud_run_v2_service", name=prefixed(name))


def env_of(container: Block) -> dict[str, Block]:
    return {entry["name"]: entry for entry in container["env"]}


def test_edge_is_built_for_websockets(synth: Synth) -> None:
    edge = service(synth, names.EDGE_SERVICE)
    template = edge["template"]
    assert edge["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert edge["invoker_iam_disabled"] is True
    assert template["timeout"] == "3600s"
    assert template["session_affinity"] is True
    assert template["max_instance_request_concurrency"] == 1000  # one socket per request
    assert template["scaling"]["min_instance_count"] >= 1
    (container,) = template["containers"]
    assert container["ports"] == {"name": "http1", "container_port": 8080}
    assert container["image"] == "${var.edge_image}"
    assert container["startup_probe"]["http_get"]["path"] == "/readyz"
    assert container["liveness_probe"]["http_get"]["path"] == "/healthz"


def test_edge_environment(synth: Synth) -> None:
    (container,) = service(synth, names.EDGE_SERVICE)["template"]["containers"]
    env = env_of(container)
    assert env["ENVIRONMENT"]["value"] == "production"
    assert env["HOST"]["value"] == "0.0.0.0"
    assert env["GOOGLE_CLOUD_PROJECT"]["value"] == "${var.project_id}"
    # Issue 12 items 3 and 9: no anonymous users, stated; handshakes only from the page's origin.
    assert env["DEMO_MODE"]["value"] == "0"
    assert env["ALLOWED_ORIGINS"]["value"] == "https://${var.domain}"
    secret = env["JWT_SECRET"]["value_source"]["secret_key_ref"]
    assert secret == {"secret": prefixed(config.JWT_SECRET_ID), "version": "latest"}
    assert "value" not in env["JWT_SECRET"], "the secret's value is never in the stack"


@pytest.mark.parametrize(
    ("name", "target", "ingress", "invoker_check_off"),
    [
        (
            config.RUN_AGENT_SERVICE,
            names.RUN_AGENT_FUNCTION,
            "INGRESS_TRAFFIC_INTERNAL_ONLY",
            False,
        ),
        (
            config.DEAD_LETTER_SERVICE,
            names.DEAD_LETTER_FUNCTION,
            "INGRESS_TRAFFIC_INTERNAL_ONLY",
            False,
        ),
        (
            config.INGEST_SERVICE,
            names.INGEST_USAGE_FUNCTION,
            "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
            True,
        ),
    ],
)
def test_functions(
    synth: Synth, name: str, target: str, ingress: str, invoker_check_off: bool
) -> None:
    function = service(synth, name)
    assert function["ingress"] == ingress
    assert function["invoker_iam_disabled"] is invoker_check_off
    (container,) = function["template"]["containers"]
    assert container["image"] == "${var.functions_image}"
    env = env_of(container)
    assert env["FUNCTION_TARGET"]["value"] == target
    assert env["ENVIRONMENT"]["value"] == "production"
    # Only the function that checks JWTs itself reads the secret.
    assert ("JWT_SECRET" in env) is invoker_check_off


def test_run_agent_outlives_the_push_ack_deadline(synth: Synth) -> None:
    timeout = service(synth, config.RUN_AGENT_SERVICE)["template"]["timeout"]
    assert int(timeout.removesuffix("s")) >= names.PUSH_ACK_DEADLINE_SECONDS


def test_every_workload_runs_as_its_own_service_account(synth: Synth) -> None:
    accounts = [
        block["template"]["service_account"]
        for block in synth.app.resources("google_cloud_run_v2_service").values()
    ]
    accounts += [
        block["template"]["template"]["service_account"]
        for block in synth.app.resources("google_cloud_run_v2_job").values()
    ]
    assert len(accounts) == 5
    assert len(set(accounts)) == len(accounts)
    for reference in accounts:
        resource_type, _ = synth.app.resolve(reference)
        assert resource_type == "google_service_account"


def test_janitor_job_runs_on_a_schedule(synth: Synth) -> None:
    job = synth.app.one("google_cloud_run_v2_job", name=prefixed(config.JANITOR_JOB))
    (container,) = job["template"]["template"]["containers"]
    assert container["image"] == "${var.edge_image}"
    assert container["command"] == ["python", "-m", "edge_ws.janitor"]
    schedule = synth.app.one("google_cloud_scheduler_job", name=prefixed(config.JANITOR_JOB))
    target = schedule["http_target"]
    assert target["http_method"] == "POST"
    assert target["uri"].endswith(":run")
    assert "oauth_token" in target
