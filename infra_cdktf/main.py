"""Entry point: ``cdktf synth``/``cdktf deploy`` run this (see ``cdktf.json``).

Works both as ``python main.py`` from ``infra_cdktf/`` (what ``cdktf.json``
runs) and as ``python -m infra_cdktf.main`` from the repository root (what the
tests and ``scripts/checkov`` run). The repository root goes on ``sys.path`` so
``apex_core.names`` — the names the emulator set-up uses too — is importable.
The output folder is ``--outdir``, else ``CDKTF_OUTDIR`` (set by the cdktf
CLI), else ``cdktf.out`` in the current directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from cdktf import App  # noqa: E402 - after the sys.path set-up

from infra_cdktf.app_stack import AppStack  # noqa: E402
from infra_cdktf.config import APP_STACK, FOUNDATION_STACK, StateSettings  # noqa: E402
from infra_cdktf.foundation import FoundationStack  # noqa: E402


def build_app(outdir: str | None = None, *, state: StateSettings | None = None) -> App:
    """Both stacks, independent of each other: nothing crosses them by reference
    (the app stack names the secret and the registry), so ``cdktf deploy apex-app``
    and ``cdktf destroy apex-foundation`` each select one stack, as documented.
    The order (foundation first) is the deploy guide's, not a Terraform dependency."""
    app = App(outdir=outdir) if outdir else App()
    backend = state or StateSettings()
    backend.apply(FoundationStack(app, FOUNDATION_STACK), FOUNDATION_STACK)
    backend.apply(AppStack(app, APP_STACK), APP_STACK)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize the Netra Apex CDKTF stacks.")
    parser.add_argument("--outdir", help="output folder (default: $CDKTF_OUTDIR or cdktf.out)")
    args = parser.parse_args(argv)
    build_app(args.outdir, state=StateSettings.from_env(os.environ)).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
