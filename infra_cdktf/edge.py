"""The WebSocket edge on Cloud Run, and the janitor of its per-instance subscriptions.

Edge (DESIGN.md, "Facts about the platform"): reachable only through the
internal load balancer path, invoker IAM check off (with it on, Cloud Run
consumes the ``Authorization`` header and the app sees it with the signature
stripped), the app verifies JWTs itself; 3600 s request timeout caps a socket's
life; HTTP/1 port ``http1`` (HTTP/2 end to end breaks WebSockets); one warm
instance; 1000 concurrent sockets an instance; session affinity so a
reconnecting client tends to land where its subscription already streams.

Janitor contract (``python -m edge_ws.janitor`` in the edge image, run by a
Cloud Run job every 30 minutes, env ``GOOGLE_CLOUD_PROJECT`` and
``JANITOR_MAX_IDLE_HOURS``): list the project's subscriptions whose name starts
with ``apex_core.names.EDGE_EVENTS_SUBSCRIPTION_PREFIX``, whose topic is
``apex-events`` and whose labels say ``role=edge``; delete each one whose
``heartbeat`` label (unix seconds, refreshed by a live edge every 5 minutes,
``edge_ws.bus``) is older than ``JANITOR_MAX_IDLE_HOURS``. A subscription with
no readable heartbeat is left alone (its 1-day expiration policy removes it).
A missing subscription (deleted meanwhile) is fine. Exit 0 when done, non-zero
on any other API error. Its identity may list, get and delete subscriptions,
nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_google.cloud_run_v2_job import (
    CloudRunV2Job,
    CloudRunV2JobTemplate,
    CloudRunV2JobTemplateTemplate,
    CloudRunV2JobTemplateTemplateContainers,
    CloudRunV2JobTemplateTemplateContainersEnv,
    CloudRunV2JobTemplateTemplateContainersResources,
)
from cdktf_cdktf_provider_google.cloud_run_v2_job_iam_member import CloudRunV2JobIamMember
from cdktf_cdktf_provider_google.cloud_run_v2_service import (
    CloudRunV2Service,
    CloudRunV2ServiceScaling,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersEnvValueSource,
    CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef,
    CloudRunV2ServiceTemplateContainersLivenessProbe,
    CloudRunV2ServiceTemplateContainersLivenessProbeHttpGet,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateContainersResources,
    CloudRunV2ServiceTemplateContainersStartupProbe,
    CloudRunV2ServiceTemplateContainersStartupProbeHttpGet,
    CloudRunV2ServiceTemplateScaling,
)
from cdktf_cdktf_provider_google.cloud_scheduler_job import (
    CloudSchedulerJob,
    CloudSchedulerJobHttpTarget,
    CloudSchedulerJobHttpTargetOauthToken,
)
from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import (
    SecretManagerSecretIamMember,
)
from constructs import Construct

from apex_core import names
from infra_cdktf import config
from infra_cdktf.config import AppSettings
from infra_cdktf.iam import Accounts, member

EDGE_TIMEOUT = "3600s"
EDGE_CONCURRENCY = 1000
EDGE_MIN_INSTANCES = 1
EDGE_MAX_INSTANCES = 20


class Edge(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AppSettings,
        accounts: Accounts,
        secret_access: Sequence[SecretManagerSecretIamMember],
        depends_on: Sequence[ITerraformDependable],
    ) -> None:
        """``depends_on``: what the first revision needs before it can pass its
        startup probe besides its secret: the topics, the edge's Pub/Sub and
        project grants (custom roles) and the Firestore database."""
        super().__init__(scope, construct_id)
        project, region = settings.project.project_id, settings.project.region

        self.service = CloudRunV2Service(
            self,
            "service",
            name=settings.named(names.EDGE_SERVICE),
            location=region,
            project=project,
            ingress="INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
            invoker_iam_disabled=True,
            deletion_protection=False,
            scaling=CloudRunV2ServiceScaling(min_instance_count=EDGE_MIN_INSTANCES),
            template=CloudRunV2ServiceTemplate(
                service_account=accounts.edge.email,
                timeout=EDGE_TIMEOUT,
                max_instance_request_concurrency=EDGE_CONCURRENCY,
                session_affinity=True,
                execution_environment="EXECUTION_ENVIRONMENT_GEN2",
                scaling=CloudRunV2ServiceTemplateScaling(
                    min_instance_count=EDGE_MIN_INSTANCES, max_instance_count=EDGE_MAX_INSTANCES
                ),
                containers=[
                    CloudRunV2ServiceTemplateContainers(
                        name="edge",
                        image=settings.edge_image,
                        ports=CloudRunV2ServiceTemplateContainersPorts(
                            name="http1", container_port=names.EDGE_PORT
                        ),
                        env=[
                            # Cloud Run sends traffic to the container's external interface.
                            CloudRunV2ServiceTemplateContainersEnv(
                                name="HOST",
                                value="0.0.0.0",  # noqa: S104 - inside the container
                            ),
                            CloudRunV2ServiceTemplateContainersEnv(
                                name="ENVIRONMENT", value="production"
                            ),
                            CloudRunV2ServiceTemplateContainersEnv(
                                name="GOOGLE_CLOUD_PROJECT", value=project
                            ),
                            # Stated, not implied by ENVIRONMENT: no anonymous users.
                            CloudRunV2ServiceTemplateContainersEnv(name="DEMO_MODE", value="0"),
                            # The WebSocket handshake's Origin allow-list: the page's own.
                            CloudRunV2ServiceTemplateContainersEnv(
                                name="ALLOWED_ORIGINS", value=f"https://{settings.domain}"
                            ),
                            CloudRunV2ServiceTemplateContainersEnv(
                                name="EDGE_SUBSCRIBE_RETRY_SECONDS",
                                value=str(config.EDGE_SUBSCRIBE_RETRY_SECONDS),
                            ),
                            jwt_secret_env(settings),
                        ],
                        # CPU stays allocated between requests: the instance keeps pulling
                        # run events from its subscription for every open socket.
                        resources=CloudRunV2ServiceTemplateContainersResources(
                            limits={"cpu": "1", "memory": "1Gi"},
                            cpu_idle=False,
                            startup_cpu_boost=True,
                        ),
                        startup_probe=CloudRunV2ServiceTemplateContainersStartupProbe(
                            http_get=CloudRunV2ServiceTemplateContainersStartupProbeHttpGet(
                                path="/readyz", port=names.EDGE_PORT
                            ),
                            period_seconds=config.EDGE_STARTUP_PERIOD_SECONDS,
                            timeout_seconds=1,
                            failure_threshold=config.EDGE_STARTUP_FAILURES,
                        ),
                        liveness_probe=CloudRunV2ServiceTemplateContainersLivenessProbe(
                            http_get=CloudRunV2ServiceTemplateContainersLivenessProbeHttpGet(
                                path="/healthz", port=names.EDGE_PORT
                            ),
                            period_seconds=15,
                            timeout_seconds=3,
                            failure_threshold=3,
                        ),
                    )
                ],
            ),
            depends_on=[*secret_access, *depends_on],
        )

        self.janitor = CloudRunV2Job(
            self,
            "janitor",
            name=settings.named(config.JANITOR_JOB),
            location=region,
            project=project,
            deletion_protection=False,
            template=CloudRunV2JobTemplate(
                task_count=1,
                template=CloudRunV2JobTemplateTemplate(
                    service_account=accounts.janitor.email,
                    timeout="600s",
                    max_retries=1,
                    containers=[
                        CloudRunV2JobTemplateTemplateContainers(
                            name="janitor",
                            image=settings.edge_image,
                            command=["python", "-m", "edge_ws.janitor"],
                            env=[
                                CloudRunV2JobTemplateTemplateContainersEnv(
                                    name="GOOGLE_CLOUD_PROJECT", value=project
                                ),
                                CloudRunV2JobTemplateTemplateContainersEnv(
                                    name="JANITOR_MAX_IDLE_HOURS",
                                    value=str(config.JANITOR_MAX_IDLE_HOURS),
                                ),
                            ],
                            resources=CloudRunV2JobTemplateTemplateContainersResources(
                                limits={"cpu": "1", "memory": "512Mi"}
                            ),
                        )
                    ],
                ),
            ),
        )
        CloudRunV2JobIamMember(
            self,
            "scheduler_runs_janitor",
            project=project,
            location=region,
            name=self.janitor.name,
            role="roles/run.invoker",
            member=member(accounts.scheduler),
        )
        CloudSchedulerJob(
            self,
            "janitor_schedule",
            name=settings.named(config.JANITOR_JOB),
            project=project,
            region=region,
            schedule=config.JANITOR_SCHEDULE,
            time_zone="Etc/UTC",
            description="Deletes apex-events-edge-* subscriptions of edge instances that are gone.",
            attempt_deadline="320s",
            http_target=CloudSchedulerJobHttpTarget(
                http_method="POST",
                uri=f"https://run.googleapis.com/v2/projects/{project}/locations/{region}"
                f"/jobs/{self.janitor.name}:run",
                oauth_token=CloudSchedulerJobHttpTargetOauthToken(
                    service_account_email=accounts.scheduler.email
                ),
            ),
        )


def jwt_secret_env(settings: AppSettings) -> CloudRunV2ServiceTemplateContainersEnv:
    """``JWT_SECRET`` from the latest version of the secret (its value is set out of band)."""
    return CloudRunV2ServiceTemplateContainersEnv(
        name="JWT_SECRET",
        value_source=CloudRunV2ServiceTemplateContainersEnvValueSource(
            secret_key_ref=CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef(
                secret=settings.named(config.JWT_SECRET_ID), version="latest"
            )
        ),
    )
