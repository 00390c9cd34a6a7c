"""Which billed model a trace without a billing model is priced at (``--model``).

Syntax: ``provider:model`` prices every request at that model;
``Name=provider:model,Other=provider:model`` maps the trace's own model names
(BurstGPT's ``ChatGPT``/``GPT-4``); ``*=provider:model`` is the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apex_core.cost.errors import BadModelMapping
from apex_core.cost.model.records import RowRejected

_EXAMPLE = "e.g. 'openai:gpt-4o-mini' or 'ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4'"


@dataclass(slots=True, frozen=True)
class BilledModel:
    """A provider id and model name genai-prices can price."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(slots=True, frozen=True)
class ModelMapping:
    """Trace model name -> billed model, with an optional fallback for every other name."""

    by_name: dict[str, BilledModel] = field(default_factory=dict)
    fallback: BilledModel | None = None

    @classmethod
    def parse(cls, text: str) -> ModelMapping:
        """Parse the ``--model`` syntax; raises :class:`BadModelMapping` with an example."""
        by_name: dict[str, BilledModel] = {}
        fallback: BilledModel | None = None
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise BadModelMapping(f"empty model mapping; expected {_EXAMPLE}")
        for part in parts:
            name, sep, target_text = part.partition("=")
            if not sep:
                name, target_text = "*", part
            target = _parse_target(target_text.strip(), part)
            if name.strip() == "*":
                fallback = target
            else:
                by_name[name.strip()] = target
        return cls(by_name=by_name, fallback=fallback)

    def target_for(self, trace_model: str) -> BilledModel:
        """The billed model for a trace row; a row whose name is not mapped is rejected."""
        found = self.by_name.get(trace_model)
        if found is not None:
            return found
        if self.fallback is not None:
            return self.fallback
        raise RowRejected(
            "unmapped trace model",
            f"the mapping has no entry for {trace_model!r}; add '{trace_model}=provider:model'",
        )

    def describe(self) -> str:
        """The mapping as the user would write it."""
        items = [f"{name}={target}" for name, target in sorted(self.by_name.items())]
        if self.fallback is not None:
            items.append(f"*={self.fallback}")
        return ",".join(items)


def _parse_target(text: str, part: str) -> BilledModel:
    provider, sep, model = text.partition(":")
    if not sep or not provider.strip() or not model.strip():
        raise BadModelMapping(
            f"model mapping entry {part!r} has no 'provider:model' target; expected {_EXAMPLE}"
        )
    return BilledModel(provider=provider.strip().lower(), model=model.strip())
