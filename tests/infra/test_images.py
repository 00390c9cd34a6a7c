"""scripts/build-images stops at the first failure, and the build context is small.

The script runs for real, with ``docker`` and ``gcloud`` replaced by fakes
earlier on ``PATH`` (the seam): each fake records its arguments, and the fake
docker fails the step named in ``FAKE_DOCKER_FAIL`` (``build`` or ``push``)
for the image named in ``FAKE_DOCKER_FAIL_IMAGE``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "build-images"
DOCKERFILES = sorted((REPO_ROOT / "infra_cdktf" / "docker").glob("*.Dockerfile"))

FAKE_DOCKER = r"""#!/usr/bin/env bash
echo "docker $*" >> "$FAKE_LOG"
step="$1"; image="${@: -1}"
if [[ $step == build ]]; then
    image="$(for a in "$@"; do [[ $prev == -t ]] && echo "$a"; prev="$a"; done)"
fi
if [[ $step == "${FAKE_DOCKER_FAIL:-}" && $image == *"${FAKE_DOCKER_FAIL_IMAGE:-}"* ]]; then
    echo "fake docker: $step failed" >&2
    exit 1
fi
if [[ $step == inspect ]]; then
    echo "${image%%:*}@sha256:$(printf %s "$image" | sha256sum | cut -c1-64)"
fi
"""
FAKE_GCLOUD = """#!/usr/bin/env bash
echo "gcloud $*" >> "$FAKE_LOG"
"""


def run_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("docker", FAKE_DOCKER), ("gcloud", FAKE_GCLOUD)):
        fake = bin_dir / name
        fake.write_text(text)
        fake.chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    result = subprocess.run(
        [str(SCRIPT), "my-project", "europe-west1", "t1"],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, log.read_text().splitlines()


def test_builds_pushes_and_prints_digest_references(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, TF_VAR_name_prefix="stg-")
    assert result.returncode == 0, result.stderr
    steps = [call.split()[1] for call in calls if call.startswith("docker ")]
    assert steps == ["build", "push", "inspect", "build", "push", "inspect"]
    base = "europe-west1-docker.pkg.dev/my-project/stg-apex"
    exports = dict(re.findall(r"^export (TF_VAR_\w+)='([^']+)'$", result.stdout, re.MULTILINE))
    assert set(exports) == {"TF_VAR_edge_image", "TF_VAR_functions_image"}
    assert re.fullmatch(rf"{base}/apex-edge@sha256:[0-9a-f]{{64}}", exports["TF_VAR_edge_image"])
    assert exports["TF_VAR_functions_image"].startswith(f"{base}/apex-functions@sha256:")


@pytest.mark.parametrize(
    ("step", "image", "expected_steps"),
    [
        ("build", "apex-edge", ["build"]),
        ("push", "apex-edge", ["build", "push"]),
        ("build", "apex-functions", ["build", "push", "inspect", "build"]),
    ],
)
def test_a_failed_step_stops_everything_after_it(
    tmp_path: Path, step: str, image: str, expected_steps: list[str]
) -> None:
    result, calls = run_script(tmp_path, FAKE_DOCKER_FAIL=step, FAKE_DOCKER_FAIL_IMAGE=image)
    assert result.returncode != 0
    steps = [call.split()[1] for call in calls if call.startswith("docker ")]
    assert steps == expected_steps
    assert f"fake docker: {step} failed" in result.stderr
    assert "no digest" not in result.stderr
    assert "export TF_VAR" not in result.stdout


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        body = body.removeprefix("**/")
        parts = path.split("/")
        if any(fnmatch.fnmatch(part, body) for part in parts) or fnmatch.fnmatch(path, body):
            ignored = not negate
    return ignored


def test_root_dockerignore_admits_exactly_what_the_images_copy() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied: set[str] = set()
    for dockerfile in DOCKERFILES:
        for match in re.finditer(r"^COPY\s+(.+?)\s+\S+$", dockerfile.read_text(), re.MULTILINE):
            copied.update(match.group(1).split())
    assert len(DOCKERFILES) == 2
    assert copied >= {"pyproject.toml", "uv.lock", "apex_core", "edge_ws", "functions"}
    for source in copied:
        assert not _ignored(source, patterns), f"{source} is copied but ignored"
    for heavy in (".venv", ".cache", ".git", "node_modules", "tests", "infra_cdktf"):
        assert _ignored(heavy, patterns), f"{heavy} would be sent to the builder"
    assert _ignored("edge_ws/__pycache__", patterns)
    # One list for both builders: no per-Dockerfile ignore file that BuildKit would prefer.
    assert not list((REPO_ROOT / "infra_cdktf" / "docker").glob("*.dockerignore"))
