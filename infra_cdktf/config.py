"""Deploy-time settings of the stack and the infrastructure-only names.

Settings the user supplies are Terraform variables (``TerraformVariable``), so
they are read when ``cdktf deploy`` runs Terraform, not when Python synthesizes:
set them as ``TF_VAR_<name>`` environment variables (or ``cdktf deploy --var``).
The synthesized JSON therefore holds ``${var.<name>}`` references and no
project-specific value, and one synth serves every project.

Names shared with the application (topics, subscriptions, collections, function
targets) come from :mod:`apex_core.names`; the names below exist only in the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cdktf import TerraformVariable
from constructs import Construct

from apex_core import names

FOUNDATION_STACK: Final = "apex-foundation"
APP_STACK: Final = "apex-app"

ARTIFACT_REPOSITORY: Final = "apex"
JWT_SECRET_ID: Final = "apex-jwt-secret"  # noqa: S105 - the secret's name, not its value

# Service account ids (6-30 chars, lowercase, digits, hyphens).
EDGE_ACCOUNT: Final = "apex-edge"
RUN_AGENT_ACCOUNT: Final = "apex-run-agent"
INGEST_ACCOUNT: Final = "apex-ingest-usage"
DEAD_LETTER_ACCOUNT: Final = "apex-dead-letter"
PUSH_ACCOUNT: Final = "apex-requests-push"
DLQ_PUSH_ACCOUNT: Final = "apex-dlq-push"
JANITOR_ACCOUNT: Final = "apex-edge-janitor"
SCHEDULER_ACCOUNT: Final = "apex-janitor-scheduler"

JANITOR_JOB: Final = "apex-edge-janitor"
JANITOR_SCHEDULE: Final = "*/30 * * * *"
# The edge refreshes its subscription's ``heartbeat`` label every 5 minutes
# (edge_ws.bus); twelve missed refreshes mean the instance is gone.
JANITOR_MAX_IDLE_HOURS: Final = 1

# The marker header the load balancer sets on every request (``replace``), so a
# client-supplied value never reaches a backend.
ROUTE_HEADER: Final = "X-Apex-Route"
# Trust headers a client could forge; the load balancer drops them on every route.
SPOOFABLE_HEADERS: Final = (
    "X-Forwarded-User",
    "X-Apex-User",
    "X-Goog-Authenticated-User-Email",
    "X-Goog-Authenticated-User-Id",
    "X-Goog-Iap-Jwt-Assertion",
)

# APIs the stack uses; enabled by the foundation stack.
APIS: Final = (
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
)


def function_service_name(target: str) -> str:
    """Cloud Run service name of a functions-framework target (no underscores allowed)."""
    return "apex-" + target.replace("_", "-")


RUN_AGENT_SERVICE: Final = function_service_name(names.RUN_AGENT_FUNCTION)
INGEST_SERVICE: Final = function_service_name(names.INGEST_USAGE_FUNCTION)
DEAD_LETTER_SERVICE: Final = function_service_name(names.DEAD_LETTER_FUNCTION)


@dataclass(frozen=True)
class ProjectSettings:
    """``project_id`` and ``region``: every stack needs them."""

    project_id: str
    region: str

    @classmethod
    def declare(cls, scope: Construct) -> ProjectSettings:
        project = TerraformVariable(
            scope,
            "project_id",
            type="string",
            description="Google Cloud project id to deploy into (TF_VAR_project_id).",
        )
        region = TerraformVariable(
            scope,
            "region",
            type="string",
            default="us-central1",
            description="Region of Cloud Run, Artifact Registry and Firestore (TF_VAR_region).",
        )
        return cls(project_id=project.string_value, region=region.string_value)


@dataclass(frozen=True)
class AppSettings:
    """The application stack's settings: the domain and the two image references."""

    project: ProjectSettings
    domain: str
    edge_image: str
    functions_image: str

    @classmethod
    def declare(cls, scope: Construct) -> AppSettings:
        project = ProjectSettings.declare(scope)
        domain = TerraformVariable(
            scope,
            "domain",
            type="string",
            description="Public host name of the chat, e.g. apex.example.com (TF_VAR_domain); "
            "its DNS A record must point at the load balancer address.",
        )
        edge_image = TerraformVariable(
            scope,
            "edge_image",
            type="string",
            description="Edge image reference printed by scripts/build-images (TF_VAR_edge_image).",
        )
        functions_image = TerraformVariable(
            scope,
            "functions_image",
            type="string",
            description="Functions image reference printed by scripts/build-images "
            "(TF_VAR_functions_image).",
        )
        return cls(
            project=project,
            domain=domain.string_value,
            edge_image=edge_image.string_value,
            functions_image=functions_image.string_value,
        )
