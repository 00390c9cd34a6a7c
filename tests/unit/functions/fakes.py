"""In-memory stand-ins for the agent functions' storage seams."""

from __future__ import annotations

from collections.abc import Callable

from apex_core.cost import UsageRollup
from apex_core.protocol import RunRequest
from functions.usage_store import UploadInfo, UsageOverview


def upload_info(upload_id: str, rollup: UsageRollup, kind: str = "upload") -> UploadInfo:
    return UploadInfo(
        upload_id=upload_id,
        kind=kind,
        source="memory",
        chunk_count=1,
        cells=len(rollup.cells),
        requests=rollup.usage.requests,
        rows_imported=rollup.rows.imported,
        rows_rejected=rollup.rows.rejected,
        first_day=rollup.first_day,
        last_day=rollup.last_day,
    )


class MemoryUsage:
    """A user's uploads in memory (the ``StoredUsage`` seam of ``functions.agent_tools``)."""

    def __init__(self, uploads: dict[str, UsageRollup] | None = None) -> None:
        self.uploads = dict(uploads or {})

    def overview(self) -> UsageOverview:
        return UsageOverview(tuple(upload_info(uid, r) for uid, r in sorted(self.uploads.items())))

    def load_rollup(self, overview: UsageOverview | None = None) -> UsageRollup:
        merged = UsageRollup()
        for rollup in self.uploads.values():
            merged.merge(rollup)
        return merged

    def ensure_demo(self, make_rollup: Callable[[], UsageRollup]) -> tuple[UploadInfo, bool]:
        created = "demo" not in self.uploads
        if created:
            self.uploads["demo"] = make_rollup()
        return upload_info("demo", self.uploads["demo"], "demo"), created


def run_request(
    text: str = "Analyze my AI costs", *, user_id: str = "demo-user-1-abcdef01", run_id: str = "r-1"
) -> RunRequest:
    return RunRequest(
        run_id=run_id,
        thread_id="t-1",
        user_id=user_id,
        text=text,
        submitted_at="2025-06-01T12:00:00.000Z",
    )
