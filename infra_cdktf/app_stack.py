"""The application stack: identities, Firestore, the services, Pub/Sub and the load balancer.

Deployed after ``apex-foundation``, once the images are pushed and the JWT
secret has a version (docs/DEPLOY.md). The two stacks do not reference each
other: the app stack names the secret and the registry, so each stack can be
deployed or destroyed on its own.

Order inside the stack: the edge's first revision creates its events
subscription before it reports ready, so it waits (``depends_on``) for the
topics, its grants on them, its project-level grants (the custom subscription
role, Firestore) and the Firestore database; every function waits for the
database.
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

        database = Database(self, "firestore", settings=settings).database

        identities = Identities(self, "identities", settings=settings)
        accounts = identities.accounts
        functions = Functions(
            self,
            "functions",
            settings=settings,
            accounts=accounts,
            secret_access=identities.secret_access,
            depends_on=[database],
        )
        messaging = Messaging(
            self,
            "messaging",
            project_id=project,
            accounts=accounts,
            attach_role=identities.attach_role,
            run_agent=functions.run_agent,
            dead_letter_handler=functions.dead_letter,
        )
        edge = Edge(
            self,
            "edge",
            settings=settings,
            accounts=accounts,
            secret_access=identities.secret_access,
            depends_on=[database, *identities.edge_grants, *messaging.edge_needs],
        )
        LoadBalancer(self, "lb", settings=settings, edge=edge.service, ingest=functions.ingest)

        TerraformOutput(self, "edge_service", value=edge.service.name)
