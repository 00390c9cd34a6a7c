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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cdktf import (
    Fn,
    GcsBackend,
    IResolvable,
    LocalBackend,
    TerraformStack,
    TerraformVariable,
    TerraformVariableValidationConfig,
)
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

# The edge's startup probe: /readyz every PERIOD seconds, FAILURES misses fail the
# revision. The edge retries creating its subscription (IAM grants take a while
# to propagate on a first deploy) for a little less than that window.
EDGE_STARTUP_PERIOD_SECONDS: Final = 2
EDGE_STARTUP_FAILURES: Final = 30
EDGE_SUBSCRIBE_RETRY_SECONDS: Final = EDGE_STARTUP_PERIOD_SECONDS * EDGE_STARTUP_FAILURES - 10

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

# APIs the stack uses; enabled by the foundation stack. Cloud Resource Manager
# serves the ``google_project`` data source and every project-level IAM grant.
APIS: Final = (
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
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


# A name prefix is lowercase letters and digits ending in "-", at most 8 characters:
# the longest service account id ("apex-janitor-scheduler", 22) must stay within 30.
NAME_PREFIX_PATTERN: Final = "^([a-z][a-z0-9]{0,6}-)?$"
ROLE_SUFFIX_PATTERN: Final = "^[A-Za-z0-9]{0,8}$"
DEFAULT_LB_LOG_SAMPLE_RATE: Final = 0.1


@dataclass(frozen=True)
class ProjectSettings:
    """``project_id``, ``region`` and ``name_prefix``: every stack needs them."""

    project_id: str
    region: str
    name_prefix: str

    def named(self, name: str) -> str:
        """``name`` with the deployment's prefix (``${var.name_prefix}apex-edge``)."""
        return f"{self.name_prefix}{name}"

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
        prefix = TerraformVariable(
            scope,
            "name_prefix",
            type="string",
            default="",
            description="Prefix of every name the stacks own, e.g. 'stg-' (TF_VAR_name_prefix); "
            "the same value for both stacks.",
            validation=[
                TerraformVariableValidationConfig(
                    condition=f'${{can(regex("{NAME_PREFIX_PATTERN}", var.name_prefix))}}',
                    error_message="name_prefix is empty or lowercase letters and digits ending "
                    "in '-', at most 8 characters (e.g. 'stg-').",
                )
            ],
        )
        return cls(
            project_id=project.string_value,
            region=region.string_value,
            name_prefix=prefix.string_value,
        )


@dataclass(frozen=True)
class AppSettings:
    """The application stack's settings."""

    project: ProjectSettings
    domain: str
    edge_image: str
    functions_image: str
    role_suffix: str
    lb_log_sample_rate: float
    create_firestore_database: IResolvable

    def named(self, name: str) -> str:
        return self.project.named(name)

    def role_id(self, base: str) -> str:
        """A custom role id: the prefix (``-`` → ``_``), ``base`` and the role suffix.

        Role ids of deleted roles stay reserved for up to 37 days; a new
        ``role_suffix`` lets a torn-down deployment come back sooner (docs/DEPLOY.md).
        """
        prefix = Fn.replace(self.project.name_prefix, "-", "_")
        return f"{prefix}{base}{self.role_suffix}"

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
        role_suffix = TerraformVariable(
            scope,
            "role_suffix",
            type="string",
            default="",
            description="Suffix of the custom role ids (TF_VAR_role_suffix): set a new one to "
            "redeploy within 37 days of a tear-down.",
            validation=[
                TerraformVariableValidationConfig(
                    condition=f'${{can(regex("{ROLE_SUFFIX_PATTERN}", var.role_suffix))}}',
                    error_message="role_suffix is at most 8 letters and digits.",
                )
            ],
        )
        sample_rate = TerraformVariable(
            scope,
            "lb_log_sample_rate",
            type="number",
            default=DEFAULT_LB_LOG_SAMPLE_RATE,
            description="Share of load-balancer requests logged, 0 to 1 (TF_VAR_lb_log_sample_rate).",
            validation=[
                TerraformVariableValidationConfig(
                    condition="${var.lb_log_sample_rate >= 0 && var.lb_log_sample_rate <= 1}",
                    error_message="lb_log_sample_rate is a number from 0 to 1.",
                )
            ],
        )
        create_database = TerraformVariable(
            scope,
            "create_firestore_database",
            type="bool",
            default=True,
            description="false: use the project's existing Firestore (default) database instead "
            "of creating it (TF_VAR_create_firestore_database).",
        )
        return cls(
            project=project,
            domain=domain.string_value,
            edge_image=edge_image.string_value,
            functions_image=functions_image.string_value,
            role_suffix=role_suffix.string_value,
            lb_log_sample_rate=sample_rate.number_value,
            create_firestore_database=create_database.boolean_value,
        )


DEFAULT_STATE_PREFIX: Final = "apex"


@dataclass(frozen=True)
class StateSettings:
    """Where Terraform keeps each stack's state; read when Python synthesizes.

    A backend cannot take Terraform variables, so these are environment
    variables of ``cdktf synth``/``deploy``: ``APEX_STATE_BUCKET`` (a GCS
    bucket: remote state, shared by a team and CI) and ``APEX_STATE_PREFIX``
    (one per deployment, e.g. ``apex-staging``; default ``apex``). Without a
    bucket the state is the local file ``infra_cdktf/terraform.<stack>.tfstate``
    (``terraform.<prefix>.<stack>.tfstate`` for another prefix), a path
    relative to the stack's folder in ``cdktf.out``, not to the synth machine.
    """

    bucket: str | None = None
    prefix: str = DEFAULT_STATE_PREFIX

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StateSettings:
        return cls(
            bucket=environ.get("APEX_STATE_BUCKET") or None,
            prefix=environ.get("APEX_STATE_PREFIX") or DEFAULT_STATE_PREFIX,
        )

    def apply(self, stack: TerraformStack, stack_id: str) -> None:
        if self.bucket:
            GcsBackend(stack, bucket=self.bucket, prefix=f"{self.prefix}/{stack_id}")
            return
        name = stack_id if self.prefix == DEFAULT_STATE_PREFIX else f"{self.prefix}.{stack_id}"
        # Terraform runs in cdktf.out/stacks/<stack>/: three levels up is infra_cdktf/.
        LocalBackend(stack, path=f"../../../terraform.{name}.tfstate")
