"""Query errors, all derived from the shared tree in :mod:`apex_core.errors`."""

from __future__ import annotations

from apex_core.errors import ApexError


class InvalidQuery(ApexError):
    """A stored query (JSON) or a planner's tool call does not describe a valid query.

    The message says which field was wrong, what was expected and what arrived.
    """

    code = "invalid_query"
