"""Synthesizes the CDKTF stacks once per test session, in a subprocess.

The subprocess (``python -m infra_cdktf.main --outdir …``) keeps the jsii
runtime and its Node.js child out of the pytest process, so no jsii warning
meets ``filterwarnings = error`` and no Node process outlives the fixture.
Neither the cdktf CLI nor terraform is needed; Node.js is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.infra.synth import Synth, load_synth

REPO_ROOT = Path(__file__).resolve().parents[2]
SYNTH_TIMEOUT_SECONDS = 240


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    if shutil.which("node") is None:
        pytest.fail(
            "Node.js is required to synthesize the CDKTF stack (the jsii runtime runs on it): "
            "install Node.js 20 or newer (docs/DEPLOY.md, Prerequisites: Debian 12's nodejs "
            "package is 18, too old)."
        )
    outdir = tmp_path_factory.mktemp("cdktf-out")
    env = dict(os.environ)
    # The jsii runtime prints a banner about Node 20's end of life; it is not our output.
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "infra_cdktf.main", "--outdir", str(outdir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"synth failed with exit code {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    loaded = load_synth(outdir)
    loaded.seconds = time.monotonic() - started
    return loaded
