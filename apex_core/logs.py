"""Structured JSON logs on stdout in Cloud Logging's format.

Every process calls :func:`configure_logging` once at start. Pass context with
``extra={"json_fields": {"run_id": …, "user_id": …, "connection_id": …}}`` (or
use :func:`fields`); Cloud Logging indexes those as ``jsonPayload`` fields.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from google.cloud.logging.handlers import StructuredLogHandler


def configure_logging(service: str, *, level: str | None = None) -> None:
    """Replace the root handlers with one structured handler writing JSON lines to stdout."""
    handler = StructuredLogHandler(stream=sys.stdout, labels={"service": service})  # type: ignore[no-untyped-call]
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    # Client libraries are chatty at INFO (every gRPC channel); keep their warnings.
    for noisy in ("google", "urllib3", "grpc", "websockets.server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: the non-empty values as Cloud Logging ``json_fields``."""
    return {"json_fields": {k: v for k, v in values.items() if v is not None}}
