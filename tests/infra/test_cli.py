"""The CDKTF CLI accepts the deploy guide's commands (issue 9).

``scripts/cdktf`` (the pinned cdktf-cli from ``infra_cdktf/package.json``,
installed with ``npm ci`` on first use) runs each documented command on the
session's synth (``--skip-synth --output``). Terraform's provider
installation is pointed at an empty filesystem mirror, so nothing is
downloaded and nothing reaches Google: each command must get past the CLI's
stack selection and Terraform's own reading of the configuration (variables,
their validation expressions, the backend) and stop only when the google
provider cannot be installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.synth import Synth

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_SECONDS = 300
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROVIDER_MISSING = "Failed to query available provider packages"
DOCUMENTED = [
    ("deploy", "apex-foundation"),
    ("deploy", "apex-app"),
    ("destroy", "apex-app"),
    ("destroy", "apex-foundation"),
]


@pytest.fixture(scope="module")
def offline_terraform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("terraform") is None:
        pytest.fail(
            "the cdktf CLI runs Terraform for deploy/destroy, and `terraform` is not on PATH: "
            "install Terraform 1.x (docs/DEPLOY.md, Prerequisites)"
        )
    folder = tmp_path_factory.mktemp("terraform-offline")
    mirror = folder / "empty-mirror"
    mirror.mkdir()
    rc = folder / "terraform.rc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    return {
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_VAR_project_id": "placeholder-project",
        "TF_VAR_domain": "apex.example.com",
        "TF_VAR_edge_image": "example.invalid/apex-edge@sha256:0",
        "TF_VAR_functions_image": "example.invalid/apex-functions@sha256:0",
    }


@pytest.mark.parametrize(("command", "stack"), DOCUMENTED)
def test_documented_command_reaches_the_provider_download(
    synth: Synth,
    offline_terraform: dict[str, str],
    tmp_path: Path,
    command: str,
    stack: str,
) -> None:
    output = tmp_path / "cdktf.out"
    shutil.copytree(synth.outdir, output)  # terraform init writes into the stack folders
    result = subprocess.run(
        [
            str(REPO_ROOT / "scripts" / "cdktf"),
            command,
            stack,
            "--skip-synth",
            "--output",
            str(output),
            "--auto-approve",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **offline_terraform, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    text = ANSI.sub("", result.stdout + result.stderr)
    assert "dependencies are not included" not in text, text[-3000:]
    assert PROVIDER_MISSING in text, f"expected to stop at the provider download:\n{text[-3000:]}"
    assert "hashicorp/google" in text
    errors = {line.strip(" │") for line in text.splitlines() if "Error:" in line}
    assert errors == {
        f"Error: {PROVIDER_MISSING}",
        "Error: terraform init failed with exit code 1",
    }, text[-3000:]
    assert result.returncode != 0
