"""The vendor-format samples under tests/fixtures/usage, and what the malformed one imports to."""

from __future__ import annotations

from pathlib import Path
from typing import Final

USAGE_FIXTURES: Final = Path(__file__).resolve().parent / "fixtures" / "usage"

MALFORMED_NATIVE_ROWS: Final = {
    "read": 5,
    "imported": 2,
    "rejected": 3,
    "empty_buckets": 0,
    "reasons": {
        "bad number in input_tokens": 1,
        "missing column": 1,
        "negative input_tokens": 1,
    },
}
"""``rows`` of ``native_malformed.csv``: two good rows, three bad ones (its README says why)."""
MALFORMED_NATIVE_REJECTIONS: Final = [
    (3, "bad number in input_tokens"),
    (4, "missing column"),
    (5, "negative input_tokens"),
]
"""(line, reason) of each row ``native_malformed.csv`` rejects, in file order."""
