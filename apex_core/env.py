"""Reading settings from an environment mapping: one parser per kind of value.

Every process (the edge, the janitor, the agent and ingest functions) reads its
numeric knobs (durations, counts, sizes, ports) through :class:`Env`; a text
setting is simply its value or the default. An unset or blank variable gives the default; a
value that cannot be used is a :class:`SettingsError` whose message names the
variable, what was expected and what arrived, so the process refuses it instead
of running with a surprise. No I/O: the caller passes ``os.environ`` (or a
test's dict).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from apex_core.errors import ApexError

MAX_PORT = 65535


class SettingsError(ApexError):
    """An environment variable holds a value the process cannot use."""

    code = "misconfigured"


@dataclass(frozen=True, slots=True)
class Env:
    """Typed reads of one environment mapping."""

    environ: Mapping[str, str]

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def number(self, name: str, default: float, *, unit: str, allow_zero: bool = False) -> float:
        """A finite number of ``unit`` (``"seconds"``), more than 0 (or, with
        ``allow_zero``, 0 or more)."""
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = "0 or more" if allow_zero else "more than 0"
            raise _refused(name, f"a number of {unit}, {bound}", raw)
        return value

    def seconds(self, name: str, default: float, *, allow_zero: bool = False) -> float:
        """A duration in seconds (see :meth:`number`)."""
        return self.number(name, default, unit="seconds", allow_zero=allow_zero)

    def count(
        self, name: str, default: int, *, minimum: int = 1, maximum: int | None = None
    ) -> int:
        """A whole number (digits only) of at least ``minimum`` (and at most ``maximum``)."""
        return self._whole(name, default, "a whole number", minimum, maximum)

    def port(self, name: str, default: int) -> int:
        """A TCP port, 1-65535."""
        return self._whole(name, default, "a TCP port", 1, MAX_PORT)

    def _whole(self, name: str, default: int, what: str, minimum: int, maximum: int | None) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        value = int(raw) if raw.isascii() and raw.isdigit() else None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bounds = f"of at least {minimum}" if maximum is None else f"({minimum}-{maximum})"
            raise _refused(name, f"{what} {bounds}", raw)
        return value


def _refused(name: str, expected: str, raw: str) -> SettingsError:
    return SettingsError(f"{name} must be {expected}; it is {raw[:80]!r}")
