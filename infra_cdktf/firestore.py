"""Firestore: the native database, the composite index the edge's thread list needs, and
the index exemption for roll-up chunks.

* ``list_threads`` queries ``threads`` with ``user_id ==`` ordered by ``updated_at``
  descending (edge_ws/store.py): that needs a composite index.
* ``create_firestore_database`` (default true): the stack creates ``(default)``.
  A project that ever used Firestore, Datastore or App Engine already has it
  (and a tear-down keeps it): set the variable to false and the stack uses the
  existing database as it is, or import it (docs/DEPLOY.md). The database's
  Terraform address is fixed, ``google_firestore_database.firestore_database``,
  so the import command does not depend on construct hashes.
* roll-up chunks (``users/{uid}/uploads/{id}/chunks/{n}``, functions/usage_store.py)
  keep up to 512 KiB of JSON text in ``data``; indexing it would exceed Firestore's
  1,500-byte index-entry limit and waste writes, so its single-field indexes are off.
"""

from __future__ import annotations

from cdktf import Fn, Token
from cdktf_cdktf_provider_google.firestore_database import FirestoreDatabase
from cdktf_cdktf_provider_google.firestore_field import FirestoreField, FirestoreFieldIndexConfig
from cdktf_cdktf_provider_google.firestore_index import FirestoreIndex, FirestoreIndexFields
from constructs import Construct

from apex_core import names
from infra_cdktf.config import AppSettings

DATABASE = "(default)"
DATABASE_ADDRESS = "firestore_database"


class Database(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: AppSettings) -> None:
        super().__init__(scope, construct_id)
        project, location = settings.project.project_id, settings.project.region
        self.database = FirestoreDatabase(
            self,
            "database",
            count=Token.as_number(Fn.conditional(settings.create_firestore_database, 1, 0)),
            project=project,
            name=DATABASE,
            location_id=location,
            type="FIRESTORE_NATIVE",
            concurrency_mode="PESSIMISTIC",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED",
            # Tearing the stack down leaves the data in place (DEPLOY.md says how to delete it).
            deletion_policy="ABANDON",
        )
        self.database.override_logical_id(DATABASE_ADDRESS)
        FirestoreIndex(
            self,
            "threads-by-user",
            project=project,
            database=DATABASE,
            depends_on=[self.database],
            collection=names.THREADS,
            fields=[
                FirestoreIndexFields(field_path="user_id", order="ASCENDING"),
                FirestoreIndexFields(field_path="updated_at", order="DESCENDING"),
            ],
        )
        FirestoreField(
            self,
            "chunk-data-unindexed",
            project=project,
            database=DATABASE,
            depends_on=[self.database],
            collection="chunks",
            field="data",
            index_config=FirestoreFieldIndexConfig(indexes=[]),
        )
