"""The three functions as Cloud Run services, all from one image.

One image (``docker/functions.Dockerfile``) holds the whole project; each
service picks its functions-framework target with ``FUNCTION_TARGET`` (the
framework reads it like ``--target``), and the image's ``FUNCTION_SOURCE``
names the module that defines all three (``functions/main.py``). One image
means one build and one reference to pass; the targets share most code anyway.

* ``run_agent``: invoked only by Pub/Sub push (OIDC token of the push account,
  invoker IAM check on), ingress internal (Pub/Sub push from the same project
  counts as internal). Its request timeout matches the subscription's ack
  deadline, so a long run is not cut before Pub/Sub would redeliver it anyway.
* ``handle_dead_letter``: the same, for the dead-letter subscription.
* ``ingest_usage``: called by browsers and the CLI with the app's own JWT
  through the load balancer (``/api/usage``), so, like the edge, ingress is
  limited to the load balancer and Cloud Run's invoker check is off (it would
  take the ``Authorization`` header for a Google identity token and reject
  the app's JWT); the function verifies the JWT itself.

Each service runs functions-framework's gunicorn with one worker and as many
threads as the service's request concurrency (``WORKERS``/``THREADS``, read by
functions-framework), both from :class:`FunctionSpec`, so an instance never
accepts more requests than it has threads for, nor idles threads it cannot use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_google.cloud_run_v2_service import (
    CloudRunV2Service,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateContainersResources,
    CloudRunV2ServiceTemplateScaling,
)
from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import (
    SecretManagerSecretIamMember,
)
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from constructs import Construct

from apex_core import names
from infra_cdktf import config
from infra_cdktf.config import AppSettings
from infra_cdktf.edge import jwt_secret_env
from infra_cdktf.iam import Accounts

CONTAINER_PORT = 8080


@dataclass(frozen=True)
class FunctionSpec:
    target: str
    service: str
    account: ServiceAccount
    ingress: str
    invoker_iam_disabled: bool
    timeout: str
    concurrency: int
    verifies_user_tokens: bool


class Functions(Construct):
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
        """``depends_on``: what every function needs besides its secret (Firestore)."""
        super().__init__(scope, construct_id)
        self._settings = settings
        self._secret_access = list(secret_access)
        self._depends_on = list(depends_on)
        self.run_agent = self._service(
            FunctionSpec(
                target=names.RUN_AGENT_FUNCTION,
                service=config.RUN_AGENT_SERVICE,
                account=accounts.run_agent,
                ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
                invoker_iam_disabled=False,
                timeout=f"{names.PUSH_ACK_DEADLINE_SECONDS}s",
                concurrency=20,
                verifies_user_tokens=False,
            )
        )
        self.dead_letter = self._service(
            FunctionSpec(
                target=names.DEAD_LETTER_FUNCTION,
                service=config.DEAD_LETTER_SERVICE,
                account=accounts.dead_letter,
                ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
                invoker_iam_disabled=False,
                timeout="60s",
                concurrency=40,
                verifies_user_tokens=False,
            )
        )
        self.ingest = self._service(
            FunctionSpec(
                target=names.INGEST_USAGE_FUNCTION,
                service=config.INGEST_SERVICE,
                account=accounts.ingest,
                ingress="INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
                invoker_iam_disabled=True,
                timeout="300s",
                concurrency=20,
                verifies_user_tokens=True,
            )
        )

    def _service(self, spec: FunctionSpec) -> CloudRunV2Service:
        project = self._settings.project.project_id
        env = [
            CloudRunV2ServiceTemplateContainersEnv(name="FUNCTION_TARGET", value=spec.target),
            CloudRunV2ServiceTemplateContainersEnv(name="ENVIRONMENT", value="production"),
            CloudRunV2ServiceTemplateContainersEnv(name="GOOGLE_CLOUD_PROJECT", value=project),
            CloudRunV2ServiceTemplateContainersEnv(name="WORKERS", value="1"),
            CloudRunV2ServiceTemplateContainersEnv(name="THREADS", value=str(spec.concurrency)),
        ]
        if spec.verifies_user_tokens:
            env.append(jwt_secret_env(self._settings))
            # CORS for uploads: the page's own origin only.
            env.append(
                CloudRunV2ServiceTemplateContainersEnv(
                    name="ALLOWED_ORIGINS", value=f"https://{self._settings.domain}"
                )
            )
        depends_on = [
            *self._depends_on,
            *(self._secret_access if spec.verifies_user_tokens else []),
        ]
        return CloudRunV2Service(
            self,
            spec.target,
            name=self._settings.named(spec.service),
            location=self._settings.project.region,
            project=project,
            ingress=spec.ingress,
            invoker_iam_disabled=spec.invoker_iam_disabled,
            deletion_protection=False,
            template=CloudRunV2ServiceTemplate(
                service_account=spec.account.email,
                timeout=spec.timeout,
                max_instance_request_concurrency=spec.concurrency,
                scaling=CloudRunV2ServiceTemplateScaling(
                    min_instance_count=0, max_instance_count=20
                ),
                containers=[
                    CloudRunV2ServiceTemplateContainers(
                        name="function",
                        image=self._settings.functions_image,
                        ports=CloudRunV2ServiceTemplateContainersPorts(
                            name="http1", container_port=CONTAINER_PORT
                        ),
                        env=env,
                        resources=CloudRunV2ServiceTemplateContainersResources(
                            limits={"cpu": "1", "memory": "1Gi"}, startup_cpu_boost=True
                        ),
                    )
                ],
            ),
            depends_on=depends_on,
        )
