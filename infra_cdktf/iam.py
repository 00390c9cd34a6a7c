"""Service accounts, custom roles and the project-level grants that cannot be narrower.

One service account per workload, each holding exactly what its code uses.
Grants on a single resource (a topic, a subscription, the secret, a Cloud Run
service or job) live next to that resource (``messaging.py``, ``edge.py``);
this module holds only what IAM offers at project level alone. No workload
holds ``roles/logging.logWriter``: every process logs JSON lines to stdout
(``apex_core.logs``), which Cloud Run forwards to Cloud Logging itself.


* ``roles/datastore.user`` — Firestore has no per-collection IAM.
* ``apexEdgeSubscriptions`` — the edge creates, reads from, relabels (its
  ``heartbeat`` label) and deletes its own ``apex-events-edge-<instance>`` pull
  subscription. Subscriptions are created
  in the project, so ``pubsub.subscriptions.create`` is checked on the project;
  ``pubsub.editor`` would also let the edge publish anywhere, change topics and
  attach to ``apex-requests`` (every user's messages). The custom role has only
  create/delete/get/consume/update; attaching is allowed on ``apex-events`` alone by a
  second role bound on that topic (``apexAttachSubscription``).
* ``apexEdgeJanitor`` — list, get and delete subscriptions (it reads the
  ``heartbeat`` label to tell a dead edge's subscription from a live one).

Not narrowed by an IAM condition, on purpose: the project-level subscription
rights would ideally hold only for ``apex-events-edge-*`` (issue 12, item 7),
but IAM Conditions' resource attributes (``resource.name``/``type``) are
recognised only by the services the IAM documentation lists, and Pub/Sub is
not among them (Pub/Sub Lite is); a ``resource.name.startsWith(…)`` condition
would not narrow the grant but deny it, and the edge could not create or read
its own subscription. What limits the edge today: creating a subscription
also needs ``attachSubscription``, held on ``apex-events`` only. What remains
(docs/DEPLOY.md, "Least privilege"): consume/update/delete reach every
subscription of the project. A tag-based condition (tags are recognised by
every service) with the edge tagging its own subscription would close it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktf_cdktf_provider_google.project_iam_member import ProjectIamMember
from cdktf_cdktf_provider_google.secret_manager_secret_iam_member import (
    SecretManagerSecretIamMember,
)
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from constructs import Construct

from infra_cdktf import config
from infra_cdktf.config import AppSettings

EDGE_SUBSCRIPTION_PERMISSIONS = (
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.delete",
    "pubsub.subscriptions.get",
    "pubsub.subscriptions.update",
)
ATTACH_PERMISSIONS = ("pubsub.topics.attachSubscription",)
JANITOR_PERMISSIONS = (
    "pubsub.subscriptions.delete",
    "pubsub.subscriptions.get",
    "pubsub.subscriptions.list",
)


def member(account: ServiceAccount) -> str:
    return f"serviceAccount:{account.email}"


@dataclass(frozen=True)
class Accounts:
    edge: ServiceAccount
    run_agent: ServiceAccount
    ingest: ServiceAccount
    dead_letter: ServiceAccount
    push: ServiceAccount
    dlq_push: ServiceAccount
    janitor: ServiceAccount
    scheduler: ServiceAccount


class Identities(Construct):
    """Every service account of the app, and its project-level grants."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: AppSettings) -> None:
        super().__init__(scope, construct_id)
        project_id = settings.project.project_id

        def account(account_id: str, what: str) -> ServiceAccount:
            return ServiceAccount(
                self,
                account_id.replace("-", "_"),
                account_id=settings.named(account_id),
                display_name=f"Netra Apex {what}",
                project=project_id,
            )

        self.accounts = Accounts(
            edge=account(config.EDGE_ACCOUNT, "WebSocket edge"),
            run_agent=account(config.RUN_AGENT_ACCOUNT, "run_agent function"),
            ingest=account(config.INGEST_ACCOUNT, "ingest_usage function"),
            dead_letter=account(config.DEAD_LETTER_ACCOUNT, "dead-letter handler"),
            push=account(config.PUSH_ACCOUNT, "apex-requests push identity"),
            dlq_push=account(config.DLQ_PUSH_ACCOUNT, "dead-letter push identity"),
            janitor=account(config.JANITOR_ACCOUNT, "edge subscription janitor"),
            scheduler=account(config.SCHEDULER_ACCOUNT, "janitor scheduler"),
        )
        a = self.accounts

        edge_subscriptions = ProjectIamCustomRole(
            self,
            "edge_subscriptions_role",
            project=project_id,
            role_id=settings.role_id("apexEdgeSubscriptions"),
            title="Apex edge per-instance subscriptions",
            description="Create, pull from, relabel and delete the edge's own subscription.",
            permissions=list(EDGE_SUBSCRIPTION_PERMISSIONS),
        )
        self.attach_role = ProjectIamCustomRole(
            self,
            "attach_subscription_role",
            project=project_id,
            role_id=settings.role_id("apexAttachSubscription"),
            title="Apex attach subscription",
            description="Attach a subscription to the topic this role is granted on.",
            permissions=list(ATTACH_PERMISSIONS),
        )
        janitor_role = ProjectIamCustomRole(
            self,
            "janitor_role",
            project=project_id,
            role_id=settings.role_id("apexEdgeJanitor"),
            title="Apex edge subscription janitor",
            description="Find and delete apex-events-edge-* subscriptions of gone instances.",
            permissions=list(JANITOR_PERMISSIONS),
        )

        grants: list[tuple[str, ServiceAccount, str]] = [
            ("edge_datastore", a.edge, "roles/datastore.user"),
            ("edge_subscriptions", a.edge, edge_subscriptions.id),
            ("run_agent_datastore", a.run_agent, "roles/datastore.user"),
            ("ingest_datastore", a.ingest, "roles/datastore.user"),
            ("dead_letter_datastore", a.dead_letter, "roles/datastore.user"),
            ("janitor_subscriptions", a.janitor, janitor_role.id),
        ]
        self.project_grants = {
            grant_id: ProjectIamMember(
                self, grant_id, project=project_id, role=role, member=member(grantee)
            )
            for grant_id, grantee, role in grants
        }
        self.edge_grants = [
            self.project_grants["edge_datastore"],
            self.project_grants["edge_subscriptions"],
        ]

        # The JWT secret is read by the two services that verify tokens themselves.
        self.secret_access = [
            SecretManagerSecretIamMember(
                self,
                f"{name}_jwt_secret",
                project=project_id,
                secret_id=settings.named(config.JWT_SECRET_ID),
                role="roles/secretmanager.secretAccessor",
                member=member(grantee),
            )
            for name, grantee in (("edge", a.edge), ("ingest", a.ingest))
        ]
