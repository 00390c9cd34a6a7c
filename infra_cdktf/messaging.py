"""Pub/Sub: topics, push subscriptions, dead letters, and the grants on each of them.

Names come from :mod:`apex_core.names`, the module the emulator set-up uses.

* ``apex-requests`` → ``apex-requests-push`` → ``run_agent``: ordering on
  (publishers set ``thread_id`` as ordering key), exponential backoff, dead
  letter to ``apex-requests-dlq`` after 5 attempts, ack deadline 600 s, OIDC
  token of a push account that may invoke ``run_agent`` and nothing else.
* ``apex-requests-dlq`` → ``apex-requests-dlq-push`` → the dead-letter handler,
  with its own push account.
* ``apex-events``: run events; each edge instance attaches its own pull
  subscription (``iam.py`` explains the custom roles).
* Dead lettering is done by the Pub/Sub service agent
  ``service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com``: it must publish
  to the DLQ topic and subscribe to the source subscription. It also mints the
  push OIDC tokens; projects created before 2021-04-08 need it to hold
  ``iam.serviceAccountTokenCreator`` on the push accounts, granted here on the
  two accounts only.
"""

from __future__ import annotations

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_google.cloud_run_v2_service import CloudRunV2Service
from cdktf_cdktf_provider_google.cloud_run_v2_service_iam_member import (
    CloudRunV2ServiceIamMember,
)
from cdktf_cdktf_provider_google.data_google_project import DataGoogleProject
from cdktf_cdktf_provider_google.project_iam_custom_role import ProjectIamCustomRole
from cdktf_cdktf_provider_google.pubsub_subscription import (
    PubsubSubscription,
    PubsubSubscriptionDeadLetterPolicy,
    PubsubSubscriptionExpirationPolicy,
    PubsubSubscriptionPushConfig,
    PubsubSubscriptionPushConfigOidcToken,
    PubsubSubscriptionRetryPolicy,
)
from cdktf_cdktf_provider_google.pubsub_subscription_iam_member import (
    PubsubSubscriptionIamMember,
)
from cdktf_cdktf_provider_google.pubsub_topic import PubsubTopic
from cdktf_cdktf_provider_google.pubsub_topic_iam_member import PubsubTopicIamMember
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from cdktf_cdktf_provider_google.service_account_iam_member import ServiceAccountIamMember
from constructs import Construct

from apex_core import names
from infra_cdktf.iam import Accounts, member

RETENTION = "604800s"  # 7 days: a request survives a long outage of run_agent
PUBLISHER = "roles/pubsub.publisher"
NEVER_EXPIRE = ""  # an empty ttl means the subscription never expires


class Messaging(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_id: str,
        accounts: Accounts,
        attach_role: ProjectIamCustomRole,
        run_agent: CloudRunV2Service,
        dead_letter_handler: CloudRunV2Service,
    ) -> None:
        super().__init__(scope, construct_id)
        self._project_id = project_id

        def topic(name: str) -> PubsubTopic:
            return PubsubTopic(
                self,
                name.replace("-", "_"),
                name=name,
                project=project_id,
                message_retention_duration=RETENTION,
            )

        self.requests = topic(names.REQUESTS_TOPIC)
        self.dead_letters = topic(names.REQUESTS_DLQ_TOPIC)
        self.events = topic(names.EVENTS_TOPIC)

        number = DataGoogleProject(self, "project", project_id=project_id).number
        pubsub_agent = f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"

        invokers = [
            self._invoker(run_agent, accounts.push, "push_invokes_run_agent"),
            self._invoker(dead_letter_handler, accounts.dlq_push, "dlq_push_invokes_handler"),
        ]
        for account, grant_id in ((accounts.push, "push"), (accounts.dlq_push, "dlq_push")):
            ServiceAccountIamMember(
                self,
                f"pubsub_agent_signs_for_{grant_id}",
                service_account_id=account.name,
                role="roles/iam.serviceAccountTokenCreator",
                member=pubsub_agent,
            )

        self.requests_push = PubsubSubscription(
            self,
            "requests_push",
            name=names.REQUESTS_PUSH_SUBSCRIPTION,
            project=project_id,
            topic=self.requests.id,
            ack_deadline_seconds=names.PUSH_ACK_DEADLINE_SECONDS,
            enable_message_ordering=True,
            message_retention_duration=RETENTION,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=NEVER_EXPIRE),
            retry_policy=PubsubSubscriptionRetryPolicy(
                minimum_backoff="10s", maximum_backoff="600s"
            ),
            dead_letter_policy=PubsubSubscriptionDeadLetterPolicy(
                dead_letter_topic=self.dead_letters.id,
                max_delivery_attempts=names.MAX_DELIVERY_ATTEMPTS,
            ),
            push_config=PubsubSubscriptionPushConfig(
                push_endpoint=run_agent.uri,
                oidc_token=PubsubSubscriptionPushConfigOidcToken(
                    service_account_email=accounts.push.email, audience=run_agent.uri
                ),
            ),
            depends_on=invokers,
        )
        self.dead_letters_push = PubsubSubscription(
            self,
            "dead_letters_push",
            name=names.REQUESTS_DLQ_PUSH_SUBSCRIPTION,
            project=project_id,
            topic=self.dead_letters.id,
            ack_deadline_seconds=60,
            message_retention_duration=RETENTION,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=NEVER_EXPIRE),
            retry_policy=PubsubSubscriptionRetryPolicy(
                minimum_backoff="10s", maximum_backoff="600s"
            ),
            push_config=PubsubSubscriptionPushConfig(
                push_endpoint=dead_letter_handler.uri,
                oidc_token=PubsubSubscriptionPushConfigOidcToken(
                    service_account_email=accounts.dlq_push.email,
                    audience=dead_letter_handler.uri,
                ),
            ),
            depends_on=invokers,
        )

        # Dead lettering by the Pub/Sub service agent.
        PubsubTopicIamMember(
            self,
            "pubsub_agent_publishes_dead_letters",
            project=project_id,
            topic=self.dead_letters.name,
            role=PUBLISHER,
            member=pubsub_agent,
        )
        PubsubSubscriptionIamMember(
            self,
            "pubsub_agent_acks_dead_lettered",
            project=project_id,
            subscription=self.requests_push.name,
            role="roles/pubsub.subscriber",
            member=pubsub_agent,
        )

        # The workloads.
        grants: list[tuple[str, PubsubTopic, ServiceAccount, str]] = [
            ("edge_publishes_requests", self.requests, accounts.edge, PUBLISHER),
            ("edge_attaches_to_events", self.events, accounts.edge, attach_role.id),
            ("run_agent_publishes_events", self.events, accounts.run_agent, PUBLISHER),
            ("dead_letter_publishes_events", self.events, accounts.dead_letter, PUBLISHER),
        ]
        self.topic_grants = {
            grant_id: PubsubTopicIamMember(
                self,
                grant_id,
                project=project_id,
                topic=target.name,
                role=role,
                member=member(grantee),
            )
            for grant_id, target, grantee, role in grants
        }

    @property
    def edge_needs(self) -> list[ITerraformDependable]:
        """What the edge's first revision uses at start: both topics and its grants on them."""
        return [
            self.requests,
            self.events,
            self.topic_grants["edge_publishes_requests"],
            self.topic_grants["edge_attaches_to_events"],
        ]

    def _invoker(
        self, service: CloudRunV2Service, account: ServiceAccount, grant_id: str
    ) -> CloudRunV2ServiceIamMember:
        return CloudRunV2ServiceIamMember(
            self,
            grant_id,
            project=self._project_id,
            location=service.location,
            name=service.name,
            role="roles/run.invoker",
            member=member(account),
        )
