"""The Google Cloud clients of a function process, created once and shared by its threads.

functions-framework imports ``functions/main.py`` once per process and calls the
target for every request, possibly on several threads; the Firestore client and
the Pub/Sub publisher are thread-safe and expensive to create, so each is built
on first use by a cached accessor (no other module-level state). Both read the
emulator hosts from the environment (``FIRESTORE_EMULATOR_HOST``,
``PUBSUB_EMULATOR_HOST``).
"""

from __future__ import annotations

import functools
import os

from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient
from google.cloud.pubsub_v1.types import BatchSettings, PublisherOptions

from apex_core import names


def project_id() -> str:
    return os.environ.get("GOOGLE_CLOUD_PROJECT", names.DEFAULT_PROJECT)


@functools.cache
def firestore_client() -> firestore.Client:
    return firestore.Client(project=project_id())


@functools.cache
def event_publisher() -> PublisherClient:
    """A publisher with message ordering on (events are ordered by ``run_id``)."""
    return PublisherClient(
        # Events are small and latency matters: send a batch after 5 ms at most.
        batch_settings=BatchSettings(max_latency=0.005),
        publisher_options=PublisherOptions(enable_message_ordering=True),
    )


def events_topic() -> str:
    return f"projects/{project_id()}/topics/{names.EVENTS_TOPIC}"
