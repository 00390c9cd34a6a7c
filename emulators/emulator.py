"""Start the official Pub/Sub and Firestore emulators and wait until they answer."""

from __future__ import annotations

import os
from dataclasses import dataclass

from emulators.prerequisites import find_emulators
from emulators.processes import ProcessGroup, http_ready

# Java emulators take a few seconds to boot on two cores; a cold JVM is slower.
EMULATOR_READY_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True, slots=True)
class EmulatorHosts:
    """Where the emulators listen, as the Google client libraries expect it."""

    pubsub: str
    firestore: str

    def env(self, project: str) -> dict[str, str]:
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub,
            "FIRESTORE_EMULATOR_HOST": self.firestore,
            "GOOGLE_CLOUD_PROJECT": project,
        }


def start_emulators(
    group: ProcessGroup, *, host: str, pubsub_port: int, firestore_port: int
) -> EmulatorHosts:
    """Start both emulators in ``group`` and return once both answer HTTP.

    Raises ``PrerequisiteMissing`` (with the install command) when Java or a
    component is missing, ``ProcessFailed`` when one exits or stays silent.
    """
    binaries = find_emulators()
    env = {**os.environ, "JAVA": str(binaries.java)}
    pubsub = group.start(
        "pubsub-emulator",
        [str(binaries.pubsub), f"--host={host}", f"--port={pubsub_port}"],
        env=env,
    )
    firestore = group.start(
        "firestore-emulator",
        [
            str(binaries.java),
            "-Duser.language=en",
            "-cp",
            str(binaries.firestore_jar),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            f"--host={host}",
            f"--port={firestore_port}",
        ],
        env=env,
    )
    # The Pub/Sub emulator answers 200 "Ok" on /; the Firestore emulator answers 200 "Ok" too.
    pubsub.wait_ready(
        http_ready(f"http://{host}:{pubsub_port}/"), timeout=EMULATOR_READY_TIMEOUT_SECONDS
    )
    firestore.wait_ready(
        http_ready(f"http://{host}:{firestore_port}/"), timeout=EMULATOR_READY_TIMEOUT_SECONDS
    )
    return EmulatorHosts(pubsub=f"{host}:{pubsub_port}", firestore=f"{host}:{firestore_port}")
