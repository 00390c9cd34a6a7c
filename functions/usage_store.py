"""A user's stored usage: per-upload roll-up chunks under ``users/{user_id}``, merged on read.

Layout (every document carries ``user_id``; every read checks it)::

    users/{user_id}/uploads/{upload_id}
        user_id, upload_id, kind ("upload" | "demo"), source, status ("complete"),
        format, chunk_count, cells, requests, rows_imported, rows_rejected,
        first_day, last_day, created_at, usage_format (uploads through ingest)
    users/{user_id}/uploads/{upload_id}/chunks/{n}      n = 0 … chunk_count-1, as "%04d"
        user_id, upload_id, n, data   (``data``: one ``UsageRollup.to_chunks()`` dict as
                                       compact JSON text — Firestore cannot store the
                                       roll-up's nested arrays — at most 512 KiB)

Writers store the chunks first and the upload document last, so a reader that
lists ``status == "complete"`` uploads never sees a half-written one. Reading a
user's usage merges the chunks of all complete uploads. A demo dataset is
stored the same way as the pseudo-upload ``demo``. Usage ingest
(``functions/ingest.py``) writes uploads with :meth:`UsageStore.save_upload`, keyed by a
content hash, and finds an earlier identical upload with :meth:`UsageStore.get_upload`.

The roll-up is the cost engine's :class:`apex_core.cost.UsageRollup`: an upload's
chunks are reassembled with ``UsageRollup.from_chunks`` and uploads are merged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from apex_core import names
from apex_core.cost import BadRollup, UsageRollup
from apex_core.errors import ApexError
from apex_core.google_errors import translated

UPLOADS: Final = "uploads"
CHUNKS: Final = "chunks"
DEMO_UPLOAD_ID: Final = "demo"
ROLLUP_FORMAT: Final = "apex.usage_rollup.v1/chunks-json"


class StoredUsageInvalid(ApexError):
    """A stored roll-up chunk cannot be read back (wrong format, corrupt)."""

    code = "usage_invalid"


@dataclass(frozen=True, slots=True)
class UploadInfo:
    upload_id: str
    kind: str
    source: str
    chunk_count: int
    cells: int
    requests: int
    rows_imported: int
    rows_rejected: int
    first_day: str | None
    last_day: str | None
    usage_format: str | None = None
    """The usage file's format (``read_usage``'s ``result.format``), when the writer gave it."""

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> UploadInfo:
        return cls(
            upload_id=str(doc["upload_id"]),
            kind=str(doc.get("kind", "upload")),
            source=str(doc.get("source", "")),
            chunk_count=int(doc.get("chunk_count", 0)),
            cells=int(doc.get("cells", 0)),
            requests=int(doc.get("requests", 0)),
            rows_imported=int(doc.get("rows_imported", 0)),
            rows_rejected=int(doc.get("rows_rejected", 0)),
            first_day=doc.get("first_day"),
            last_day=doc.get("last_day"),
            usage_format=doc.get("usage_format"),
        )


@dataclass(frozen=True, slots=True)
class UsageOverview:
    """What a user has stored, from the upload documents alone (no chunk read)."""

    uploads: tuple[UploadInfo, ...]

    @property
    def empty(self) -> bool:
        return not any(u.cells for u in self.uploads)

    @property
    def requests(self) -> int:
        return sum(u.requests for u in self.uploads)

    @property
    def first_day(self) -> str | None:
        return min((u.first_day for u in self.uploads if u.first_day), default=None)

    @property
    def last_day(self) -> str | None:
        return max((u.last_day for u in self.uploads if u.last_day), default=None)

    @property
    def days(self) -> int:
        """Days spanned from the first to the last day of usage, inclusive."""
        if self.first_day is None or self.last_day is None:
            return 0
        return (date.fromisoformat(self.last_day) - date.fromisoformat(self.first_day)).days + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "uploads": len(self.uploads),
            "requests": self.requests,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "days": self.days,
        }


class UsageStore:
    """One user's usage uploads in Firestore.

    ``deadline`` (seconds) bounds every Firestore call, retries included, so an
    HTTP caller (usage ingest) answers 503 instead of waiting out the client's
    default retry of several minutes; ``None`` keeps the client's defaults.
    """

    def __init__(
        self, db: firestore.Client, user_id: str, *, deadline: float | None = None
    ) -> None:
        self.db = db
        self.user_id = user_id
        self.uploads_ref = db.collection(names.USERS).document(user_id).collection(UPLOADS)
        self._call: dict[str, Any] = (
            {}
            if deadline is None
            else {
                "retry": gretry.Retry(predicate=gretry.if_transient_error, timeout=deadline),
                "timeout": deadline,
            }
        )

    def overview(self) -> UsageOverview:
        """The user's complete uploads, in upload id order."""
        with translated(f"listing usage uploads of user {self.user_id}"):
            query = self.uploads_ref.where(filter=FieldFilter("status", "==", "complete"))
            snaps = list(query.stream(**self._call))
        docs = [s.to_dict() or {} for s in snaps]
        infos = [UploadInfo.from_doc(d) for d in docs if d.get("user_id") == self.user_id]
        return UsageOverview(tuple(sorted(infos, key=lambda u: u.upload_id)))

    def load_rollup(self, overview: UsageOverview | None = None) -> UsageRollup:
        """The merge of every complete upload's roll-up (an empty roll-up if there are none)."""
        overview = overview or self.overview()
        merged = UsageRollup()
        refs = [
            self.uploads_ref.document(u.upload_id).collection(CHUNKS).document(f"{n:04d}")
            for u in overview.uploads
            for n in range(u.chunk_count)
        ]
        if not refs:
            return merged
        with translated(f"reading usage chunks of user {self.user_id}"):
            snaps = list(self.db.get_all(refs, **self._call))
        found = {s.reference.path: s for s in snaps if s.exists}
        for upload in overview.uploads:
            chunks = []
            for n in range(upload.chunk_count):
                ref = self.uploads_ref.document(upload.upload_id).collection(CHUNKS)
                path = ref.document(f"{n:04d}").path
                snap = found.get(path)
                doc = snap.to_dict() if snap is not None else None
                if doc is None or doc.get("user_id") != self.user_id:
                    raise StoredUsageInvalid(
                        f"usage chunk {path} is missing or not this user's; the upload document "
                        f"lists {upload.chunk_count} chunks — upload the usage file again"
                    )
                try:
                    chunks.append(json.loads(doc["data"]))
                except (KeyError, TypeError, ValueError) as exc:
                    raise StoredUsageInvalid(
                        f"usage chunk {path} holds no roll-up JSON ({exc!r}); upload the usage "
                        "file again"
                    ) from exc
            try:
                merged.merge(UsageRollup.from_chunks(chunks))
            except BadRollup as exc:
                raise StoredUsageInvalid(
                    f"upload {upload.upload_id} of user {self.user_id} is not a readable "
                    f"roll-up: {exc}; upload the usage file again"
                ) from exc
        return merged

    def get_upload(self, upload_id: str) -> UploadInfo | None:
        """This user's complete upload ``upload_id``, or ``None``."""
        with translated(f"reading usage upload {upload_id} of user {self.user_id}"):
            snap = self.uploads_ref.document(upload_id).get(**self._call)
        doc = snap.to_dict() if snap.exists else None
        if doc is None or doc.get("status") != "complete":
            return None
        if doc.get("user_id") != self.user_id:
            raise StoredUsageInvalid(f"{snap.reference.path} names user {doc.get('user_id')!r}")
        return UploadInfo.from_doc(doc)

    def save_upload(
        self,
        upload_id: str,
        rollup: UsageRollup,
        *,
        kind: str,
        source: str,
        exclusive: bool,
        usage_format: str | None = None,
    ) -> UploadInfo:
        """Store ``rollup`` as upload ``upload_id``: chunks first, then the upload document.

        With ``exclusive`` the upload document is created with ``create()`` and an
        existing one wins (:class:`FileExistsError` is raised; nothing is overwritten).
        ``usage_format`` (the file's format, e.g. ``openai-usage``) is stored when given.
        """
        pieces = rollup.to_chunks()
        upload_ref = self.uploads_ref.document(upload_id)
        doc = {
            "user_id": self.user_id,
            "upload_id": upload_id,
            "kind": kind,
            "source": source,
            "status": "complete",
            "format": ROLLUP_FORMAT,
            "chunk_count": len(pieces),
            "cells": len(rollup.cells),
            "requests": rollup.usage.requests,
            "rows_imported": rollup.rows.imported,
            "rows_rejected": rollup.rows.rejected,
            "first_day": rollup.first_day,
            "last_day": rollup.last_day,
            "created_at": datetime.now(UTC),
        }
        if usage_format is not None:
            doc["usage_format"] = usage_format
        with translated(f"storing usage upload {upload_id} of user {self.user_id}"):
            batch = self.db.batch()
            for n, piece in enumerate(pieces):
                batch.set(
                    upload_ref.collection(CHUNKS).document(f"{n:04d}"),
                    {
                        "user_id": self.user_id,
                        "upload_id": upload_id,
                        "n": n,
                        "data": json.dumps(piece, separators=(",", ":")),
                    },
                )
            batch.commit(**self._call)
            try:
                if exclusive:
                    upload_ref.create(doc, **self._call)
                else:
                    upload_ref.set(doc, **self._call)
            except gexc.AlreadyExists as exc:
                raise FileExistsError(upload_ref.path) from exc
        return UploadInfo.from_doc(doc)

    def ensure_demo(self, make_rollup: Callable[[], UsageRollup]) -> tuple[UploadInfo, bool]:
        """The user's demo upload, generated and stored by ``make_rollup`` if it is missing.

        Returns the upload and whether this call created it.
        """
        for _ in range(2):
            with translated(f"reading the demo upload of user {self.user_id}"):
                snap = self.uploads_ref.document(DEMO_UPLOAD_ID).get(**self._call)
            existing = snap.to_dict() if snap.exists else None
            if existing is not None:
                if existing.get("user_id") != self.user_id:
                    raise StoredUsageInvalid(
                        f"{snap.reference.path} names user {existing.get('user_id')!r}"
                    )
                return UploadInfo.from_doc(existing), False
            try:
                info = self.save_upload(
                    DEMO_UPLOAD_ID,
                    make_rollup(),
                    kind="demo",
                    source="generated demo dataset",
                    exclusive=True,
                )
            except FileExistsError:
                continue  # another delivery stored it first: read theirs
            return info, True
        raise StoredUsageInvalid(
            f"the demo upload of user {self.user_id} exists but could not be read; try again"
        )
