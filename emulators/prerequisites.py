"""Find the system prerequisites; say exactly how to install a missing one."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from emulators.errors import PrerequisiteMissing

_SDK_INSTALL = (
    "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), e.g. on Debian: "
    "'apt-get install google-cloud-cli'"
)


@dataclass(frozen=True, slots=True)
class EmulatorBinaries:
    java: Path
    pubsub: Path
    firestore_jar: Path


def find_java() -> Path:
    java = shutil.which("java")
    if java is None:
        raise PrerequisiteMissing(
            "Java 11+ is required by the Pub/Sub and Firestore emulators but 'java' is not on "
            "PATH; install it, e.g. 'apt-get install openjdk-17-jre-headless'"
        )
    return Path(java)


def find_sdk_root() -> Path:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise PrerequisiteMissing(f"'gcloud' is not on PATH; {_SDK_INSTALL}")
    completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    root = completed.stdout.strip()
    if completed.returncode != 0 or not root:
        raise PrerequisiteMissing(
            f"'gcloud info' failed (exit {completed.returncode}): {completed.stderr.strip()[:300]}"
        )
    return Path(root)


def find_emulators() -> EmulatorBinaries:
    """Locate Java and both emulator components, or raise with the install command."""
    java = find_java()
    root = find_sdk_root()
    pubsub = root / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    firestore = root / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
    missing = []
    if not pubsub.exists():
        missing.append(("Pub/Sub emulator", "google-cloud-cli-pubsub-emulator", "pubsub-emulator"))
    if not firestore.exists():
        missing.append(
            (
                "Firestore emulator",
                "google-cloud-cli-firestore-emulator",
                "cloud-firestore-emulator",
            )
        )
    if missing:
        what = ", ".join(name for name, _, _ in missing)
        apt = " ".join(pkg for _, pkg, _ in missing)
        comp = " ".join(c for _, _, c in missing)
        raise PrerequisiteMissing(
            f"the {what} is not installed under {root}; install it with "
            f"'apt-get install {apt}' (Debian/Ubuntu packages) or 'gcloud components install {comp}'"
        )
    return EmulatorBinaries(java=java, pubsub=pubsub, firestore_jar=firestore)
