"""Cost-engine errors, all derived from the shared tree in :mod:`apex_core.errors`."""

from __future__ import annotations

from apex_core.errors import ImportFailed


class UnknownUsageFormat(ImportFailed):
    """The format of a usage file could not be recognised, or a named format does not fit."""

    code = "unknown_format"


class BadModelMapping(ImportFailed):
    """A ``--model`` mapping is malformed, or a trace needs a mapping and has none."""

    code = "bad_model_mapping"


class BadRollup(ImportFailed):
    """A serialized roll-up (JSON or chunks) is malformed or of another schema version."""

    code = "bad_rollup"
