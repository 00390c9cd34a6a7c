"""The foundation stack: what must exist before images are pushed and the app deploys.

Enabled APIs, the Artifact Registry repository the images are pushed to, and the
JWT secret (its value is added out of band with ``gcloud secrets versions add``;
Cloud Run refuses to start a revision whose secret has no version, which is why
this stack is deployed, and filled, first).
"""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformStack
from cdktf_cdktf_provider_google.artifact_registry_repository import (
    ArtifactRegistryRepository,
    ArtifactRegistryRepositoryCleanupPolicies,
    ArtifactRegistryRepositoryCleanupPoliciesCondition,
    ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions,
)
from cdktf_cdktf_provider_google.project_service import ProjectService
from cdktf_cdktf_provider_google.provider import GoogleProvider
from cdktf_cdktf_provider_google.secret_manager_secret import (
    SecretManagerSecret,
    SecretManagerSecretReplication,
    SecretManagerSecretReplicationAuto,
)
from constructs import Construct

from infra_cdktf.config import APIS, ARTIFACT_REPOSITORY, JWT_SECRET_ID, ProjectSettings


class FoundationStack(TerraformStack):
    def __init__(self, scope: Construct, stack_id: str) -> None:
        super().__init__(scope, stack_id)
        settings = ProjectSettings.declare(self)
        GoogleProvider(self, "google", project=settings.project_id, region=settings.region)

        services = [
            ProjectService(
                self,
                f"api_{api.split('.')[0]}",
                service=api,
                # Tearing the stack down must not switch off APIs other workloads use.
                disable_on_destroy=False,
            )
            for api in APIS
        ]

        repository = ArtifactRegistryRepository(
            self,
            "images",
            repository_id=settings.named(ARTIFACT_REPOSITORY),
            location=settings.region,
            format="DOCKER",
            description="Netra Apex container images (scripts/build-images pushes here).",
            cleanup_policies=[
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=(
                        ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions(keep_count=10)
                    ),
                ),
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="delete-old",
                    action="DELETE",
                    condition=ArtifactRegistryRepositoryCleanupPoliciesCondition(
                        older_than="2592000s"
                    ),
                ),
            ],
            depends_on=services,
        )

        secret = SecretManagerSecret(
            self,
            "jwt_secret",
            secret_id=settings.named(JWT_SECRET_ID),
            replication=SecretManagerSecretReplication(auto=SecretManagerSecretReplicationAuto()),
            labels={"app": "netra-apex"},
            depends_on=services,
        )

        # Output names are fixed (no construct-path hash), so docs and scripts can
        # read them with `cdktf output` / `terraform output`.
        TerraformOutput(
            self,
            "repository",
            value=f"{settings.region}-docker.pkg.dev/{settings.project_id}/"
            f"{repository.repository_id}",
            description="Image repository for scripts/build-images.",
        )
        TerraformOutput(self, "jwt_secret_id", value=secret.secret_id)
