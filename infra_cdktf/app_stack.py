"""The application stack: identities, Firestore, the services, Pub/Sub and the load balancer.

Deployed after ``apex-foundation`` (which it depends on), once the images are
pushed and the JWT secret has a version (docs/DEPLOY.md).
"""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformStack
from cdktf_cdktf_provider_google.provider import GoogleProvider
from constructs import Construct

from infra_cdktf.config import AppSettings
from infra_cdktf.edge import Edge
from infra_cdktf.firestore import Database
from infra_cdktf.functions import Functions
from infra_cdktf.iam import Identities
from infra_cdktf.load_balancer import LoadBalancer
from infra_cdktf.messaging import Messaging


class AppStack(TerraformStack):
    def __init__(self, scope: Construct, stack_id: str) -> None:
        super().__init__(scope, stack_id)
        settings = AppSettings.declare(self)
        project = settings.project.project_id
        GoogleProvider(self, "google", project=project, region=settings.project.region)

        Database(self, "firestore", project=project, location=settings.project.region)

        identities = Identities(self, "identities", project_id=project)
        accounts = identities.accounts
        functions = Functions(
            self,
            "functions",
            settings=settings,
            accounts=accounts,
            secret_access=identities.secret_access,
        )
        edge = Edge(
            self,
            "edge",
            settings=settings,
            accounts=accounts,
            secret_access=identities.secret_access,
        )
        Messaging(
            self,
            "messaging",
            project_id=project,
            accounts=accounts,
            attach_role=identities.attach_role,
            run_agent=functions.run_agent,
            dead_letter_handler=functions.dead_letter,
        )
        LoadBalancer(self, "lb", settings=settings, edge=edge.service, ingest=functions.ingest)

        TerraformOutput(self, "edge_service", value=edge.service.name)
