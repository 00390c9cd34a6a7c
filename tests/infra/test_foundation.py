"""The foundation stack, the variables the user sets, and how long synth takes."""

from __future__ import annotations

import pytest

from infra_cdktf import config
from tests.infra.synth import Synth, prefixed

pytestmark = pytest.mark.infra


def test_foundation_holds_registry_secret_and_apis(synth: Synth) -> None:
    stack = synth.foundation
    repository = stack.one(
        "google_artifact_registry_repository", repository_id=prefixed(config.ARTIFACT_REPOSITORY)
    )
    assert repository["format"] == "DOCKER"
    secret = stack.one("google_secret_manager_secret", secret_id=prefixed(config.JWT_SECRET_ID))
    assert "auto" in secret["replication"]
    apis = {block["service"] for block in stack.resources("google_project_service").values()}
    assert apis == set(config.APIS)


def test_no_secret_value_in_any_stack(synth: Synth) -> None:
    for stack in synth.stacks:
        assert not stack.resources("google_secret_manager_secret_version")


def test_firestore_native(synth: Synth) -> None:
    database = synth.app.resources("google_firestore_database")["firestore_database"]
    assert database["name"] == "(default)"
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["deletion_policy"] == "ABANDON"


def test_thread_list_index_and_unindexed_chunks(synth: Synth) -> None:
    index = synth.app.one("google_firestore_index", collection="threads")
    assert index["fields"] == [
        {"field_path": "user_id", "order": "ASCENDING"},
        {"field_path": "updated_at", "order": "DESCENDING"},
    ]
    field = synth.app.one("google_firestore_field", collection="chunks", field="data")
    assert field["index_config"] == {"indexes": []}


def test_variables_the_user_sets(synth: Synth) -> None:
    assert set(synth.app.document["variable"]) == {
        "project_id",
        "region",
        "name_prefix",
        "domain",
        "edge_image",
        "functions_image",
        "role_suffix",
        "lb_log_sample_rate",
        "create_firestore_database",
    }
    assert set(synth.foundation.document["variable"]) == {"project_id", "region", "name_prefix"}
    for stack in synth.stacks:
        # Both stacks must agree on the prefix: the app stack names the foundation's secret.
        assert stack.document["variable"]["name_prefix"]["default"] == ""
    for stack in synth.stacks:
        (provider,) = stack.document["provider"]["google"]
        assert provider["project"] == "${var.project_id}"
