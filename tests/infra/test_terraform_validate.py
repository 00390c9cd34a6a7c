"""``terraform validate`` of both synthesized stacks, offline, against the provider's schema.

No reachable registry ships the google provider, so Terraform's provider
installation points at a local mirror holding a stand-in
(:mod:`tests.infra.standin.provider`): a plugin that serves the google
provider 6.50.0 schema rebuilt from the pinned ``cdktf-cdktf-provider-google``
bindings and accepts every configuration. Terraform itself then checks each
stack: unknown arguments and blocks, missing required arguments, references
to attributes that do not exist, dependency cycles, variables and their
validation expressions. Not checked (docs/DEPLOY.md): attribute types and
values, the provider's own validation (conflicting arguments, formats), and
computed attributes inside nested blocks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.standin import schema
from tests.infra.synth import Synth

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = Path("registry.terraform.io/hashicorp/google/6.50.0/linux_amd64")
TIMEOUT_SECONDS = 180


@pytest.fixture(scope="module")
def offline_terraform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for Terraform with the stand-in google provider as its only source."""
    if shutil.which("terraform") is None:
        pytest.fail(
            "terraform validate needs `terraform` on PATH: install Terraform 1.x "
            "(docs/DEPLOY.md, Prerequisites)"
        )
    folder = tmp_path_factory.mktemp("standin")
    schema_file = folder / "google-6.50.0.schema.bin"
    schema_file.write_bytes(schema.get_provider_schema_response(schema.build(schema.assembly())))
    plugin_dir = folder / "mirror" / PROVIDER_DIR
    plugin_dir.mkdir(parents=True)
    shim = plugin_dir / "terraform-provider-google_v6.50.0"
    shim.write_text(
        "#!/bin/sh\n"
        f"export STANDIN_SCHEMA='{schema_file}' PYTHONPATH='{REPO_ROOT}'\n"
        f"exec '{sys.executable}' -m tests.infra.standin.provider \"$@\"\n"
    )
    shim.chmod(0o755)
    rc = folder / "terraform.rc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{folder / "mirror"}"\n  }}\n}}\n'
    )
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }


def validate(stack_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args],
            cwd=stack_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )

    init = terraform("init", "-backend=false", "-input=false", "-no-color")
    assert init.returncode == 0, f"terraform init failed:\n{init.stdout}\n{init.stderr}"
    result = terraform("validate", "-json", "-no-color")
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"terraform validate printed no JSON:\n{result.stdout}\n{result.stderr}")
    return report


def stack_copy(synth: Synth, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(synth.outdir / "stacks" / name, target)
    return target


@pytest.mark.parametrize("stack", ["apex-foundation", "apex-app"])
def test_stack_is_valid_against_the_provider_schema(
    synth: Synth, offline_terraform: dict[str, str], tmp_path: Path, stack: str
) -> None:
    report = validate(stack_copy(synth, stack, tmp_path), offline_terraform)
    messages = [f"{d['summary']}: {d['detail']}" for d in report["diagnostics"]]
    assert report["valid"] is True, "\n".join(messages)
    assert messages == []


def test_validate_catches_what_it_claims_to(
    synth: Synth, offline_terraform: dict[str, str], tmp_path: Path
) -> None:
    """The same check on a broken copy of the app stack: it is not vacuous."""
    folder = stack_copy(synth, "apex-app", tmp_path)
    path = folder / "cdk.tf.json"
    document = json.loads(path.read_text())
    resources = document["resource"]
    service = next(iter(resources["google_cloud_run_v2_service"].values()))
    service["no_such_argument"] = 1
    del service["location"]
    service["template"]["containers"][0]["no_such_container_field"] = "x"
    topic = next(iter(resources["google_pubsub_topic"]))
    document["output"]["edge_service"]["value"] = f"${{google_pubsub_topic.{topic}.no_such_output}}"
    path.write_text(json.dumps(document))

    report = validate(folder, offline_terraform)
    found = sorted((d["summary"], d["detail"]) for d in report["diagnostics"])
    assert report["valid"] is False
    details = " ".join(detail for _, detail in found)
    assert [summary for summary, _ in found] == [
        "Extraneous JSON object property",
        "Extraneous JSON object property",
        "Missing required argument",
        "Unsupported attribute",
    ]
    for name in ("no_such_argument", "no_such_container_field", '"location"', "no_such_output"):
        assert name in details
