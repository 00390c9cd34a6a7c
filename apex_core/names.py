"""Names of every cloud resource, shared by the emulator set-up and the CDKTF stack,
and the shape of a demo user's id.

Change a name here and both the local emulators and production follow.
"""

from __future__ import annotations

import re
from typing import Final

# Pub/Sub
REQUESTS_TOPIC: Final = "apex-requests"
REQUESTS_PUSH_SUBSCRIPTION: Final = "apex-requests-push"
REQUESTS_DLQ_TOPIC: Final = "apex-requests-dlq"
REQUESTS_DLQ_PUSH_SUBSCRIPTION: Final = "apex-requests-dlq-push"
EVENTS_TOPIC: Final = "apex-events"
EDGE_EVENTS_SUBSCRIPTION_PREFIX: Final = "apex-events-edge-"
MAX_DELIVERY_ATTEMPTS: Final = 5
PUSH_ACK_DEADLINE_SECONDS: Final = 600

# Firestore collections
THREADS: Final = "threads"
MESSAGES: Final = "messages"
RUNS: Final = "runs"
EVENTS: Final = "events"
USERS: Final = "users"

# Cloud Run services / functions (also the functions-framework targets)
EDGE_SERVICE: Final = "apex-edge"
RUN_AGENT_FUNCTION: Final = "run_agent"
INGEST_USAGE_FUNCTION: Final = "ingest_usage"
DEAD_LETTER_FUNCTION: Final = "handle_dead_letter"

# Local defaults (DESIGN.md, "Local run")
DEFAULT_PROJECT: Final = "apex-local"
EDGE_PORT: Final = 8080
RUN_AGENT_PORT: Final = 8081
INGEST_USAGE_PORT: Final = 8082
DEAD_LETTER_PORT: Final = 8083
PUBSUB_EMULATOR_PORT: Final = 8085
FIRESTORE_EMULATOR_PORT: Final = 8086

# Users without credentials (DEMO_MODE): ``demo-user-<unix seconds>-<random>``
DEMO_USER_PREFIX: Final = "demo-user-"


_DEMO_USER_ID: Final = re.compile(rf"{DEMO_USER_PREFIX}\d{{1,12}}-[0-9a-f]{{8}}")


def is_demo_user_id(user_id: str) -> bool:
    """Whether ``user_id`` has the exact shape of a demo user's id (``new_demo_user_id``)."""
    return _DEMO_USER_ID.fullmatch(user_id) is not None


def edge_events_subscription(instance_id: str) -> str:
    """The per-instance pull subscription an edge instance reads run events from."""
    return f"{EDGE_EVENTS_SUBSCRIPTION_PREFIX}{instance_id}"
