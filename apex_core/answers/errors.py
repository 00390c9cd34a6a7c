"""Errors of answering a question, derived from the shared tree in :mod:`apex_core.errors`."""

from __future__ import annotations

from apex_core.errors import ApexError


class CannotAnswer(ApexError):
    """The query is valid but the stored usage cannot answer it (e.g. features x end users)."""

    code = "cannot_answer"
