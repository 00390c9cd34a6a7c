"""The planner's settings, from the environment. Nothing is configured by default.

==============================  ==============================================  =======
variable                        setting                                         default
==============================  ==============================================  =======
``PLANNER_BASE_URL``            OpenAI-compatible API root, e.g.                unset:
                                ``https://api.openai.com/v1``,                  planner
                                ``http://127.0.0.1:11434/v1`` (Ollama)          off
``PLANNER_MODEL``               model name sent in the request                  required
``PLANNER_API_KEY``             bearer token (Secret Manager in the stack)      none
``PLANNER_TIMEOUT_SECONDS``     one request, then the parser answers            10
==============================  ==============================================  =======
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from apex_core.errors import ApexError

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
MAX_TIMEOUT_SECONDS: Final = 120.0


class PlannerSettingsError(ApexError):
    """A ``PLANNER_*`` variable holds a value the planner cannot use."""

    code = "misconfigured"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannerSettings:
    """Where and how to ask the model."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def completions_url(self) -> str:
        """``{base_url}/chat/completions``."""
        return f"{self.base_url.rstrip('/')}/chat/completions"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PlannerSettings | None:
        """The settings ``env`` holds, ``None`` when ``PLANNER_BASE_URL`` is unset or empty;
        :class:`PlannerSettingsError` naming the variable when a value is unusable."""
        base_url = env.get("PLANNER_BASE_URL", "").strip()
        if not base_url:
            return None
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PlannerSettingsError(
                f"PLANNER_BASE_URL must be an http(s) URL such as https://api.openai.com/v1, got {base_url!r}"
            )
        model = env.get("PLANNER_MODEL", "").strip()
        if not model:
            raise PlannerSettingsError(
                "PLANNER_MODEL must name the model when PLANNER_BASE_URL is set"
            )
        raw_timeout = env.get("PLANNER_TIMEOUT_SECONDS", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_SECONDS
        except ValueError as error:
            raise PlannerSettingsError(
                f"PLANNER_TIMEOUT_SECONDS must be a number of seconds, got {raw_timeout!r}"
            ) from error
        if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
            raise PlannerSettingsError(
                f"PLANNER_TIMEOUT_SECONDS must be in (0, {MAX_TIMEOUT_SECONDS:g}], got {raw_timeout!r}"
            )
        return cls(
            base_url=base_url,
            model=model,
            api_key=env.get("PLANNER_API_KEY", "").strip() or None,
            timeout_seconds=timeout,
        )
