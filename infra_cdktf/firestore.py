"""Firestore: the native database, the composite index the edge's thread list needs, and
the index exemption for roll-up chunks.

* ``list_threads`` queries ``threads`` with ``user_id ==`` ordered by ``updated_at``
  descending (edge_ws/store.py): that needs a composite index.
* roll-up chunks (``users/{uid}/uploads/{id}/chunks/{n}``, functions/usage_store.py)
  keep up to 512 KiB of JSON text in ``data``; indexing it would exceed Firestore's
  1,500-byte index-entry limit and waste writes, so its single-field indexes are off.
"""

from __future__ import annotations

from cdktf_cdktf_provider_google.firestore_database import FirestoreDatabase
from cdktf_cdktf_provider_google.firestore_field import FirestoreField, FirestoreFieldIndexConfig
from cdktf_cdktf_provider_google.firestore_index import FirestoreIndex, FirestoreIndexFields
from constructs import Construct

from apex_core import names


class Database(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, project: str, location: str) -> None:
        super().__init__(scope, construct_id)
        self.database = FirestoreDatabase(
            self,
            "database",
            project=project,
            name="(default)",
            location_id=location,
            type="FIRESTORE_NATIVE",
            concurrency_mode="PESSIMISTIC",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED",
            # Tearing the stack down leaves the data in place (DEPLOY.md says how to delete it).
            deletion_policy="ABANDON",
        )
        FirestoreIndex(
            self,
            "threads-by-user",
            project=project,
            database=self.database.name,
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
            database=self.database.name,
            collection="chunks",
            field="data",
            index_config=FirestoreFieldIndexConfig(indexes=[]),
        )
