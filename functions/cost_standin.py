"""TEMPORARY stand-in for the cost engine (``apex_core.cost``), until its API lands.

The agent tools need four things from the cost engine that are not in the tree
yet: a mergeable usage roll-up that can be stored as JSON, ``analyze(rollup)``
returning an analysis whose ``to_json()`` has the shape of ``apex analyze
--json``, ``render_markdown(analysis)`` and a deterministic demo dataset. This
module is the smallest honest version of each, so the agents run end to end on
real numbers:

* :class:`UsageRollup` — token and request totals per (day, provider, model);
  ``merge`` adds two roll-ups; ``to_json``/``from_json`` round-trip it.
* :func:`analyze` — prices every (day, provider, model) bucket exactly with
  ``genai-prices`` (an unknown model is reported as *unpriced*, never as $0)
  and derives two kinds of recommendation (prompt caching, a cheaper sibling
  model) whose savings are computed from the stored usage with a stated
  assumption.
* :func:`render_markdown` — the report.
* :func:`demo_rollup` — 30 days of plausible usage on four models, seeded.

When ``apex_core.cost`` exports ``UsageRollup``, ``analyze``,
``render_markdown`` and ``demo_records``, ``functions.agent_tools`` and
``functions.usage_store`` switch their imports to it and this module goes away.
No I/O here.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from genai_prices import Usage, calc_price

MONTH_DAYS: Final = 30
CACHE_TARGET_SHARE: Final = Decimal("0.5")
"""Caching assumption: a shared prompt prefix lets half of the input tokens be cache reads."""
SWITCH_SHARE: Final = Decimal("0.3")
"""Model-choice assumption: 30 % of a model's traffic is simple enough for its cheaper sibling."""
MIN_MONTHLY_SAVINGS_USD: Final = Decimal("1")

CHEAPER_SIBLING: Final[Mapping[tuple[str, str], str]] = {
    ("openai", "gpt-4o"): "gpt-4o-mini",
    ("openai", "gpt-4.1"): "gpt-4.1-mini",
    ("anthropic", "claude-opus-4-1"): "claude-sonnet-4-5",
    ("anthropic", "claude-sonnet-4-5"): "claude-haiku-4-5",
    ("google", "gemini-2.5-pro"): "gemini-2.5-flash",
}


@dataclass(frozen=True, slots=True, order=True)
class UsageKey:
    day: str
    """ISO date (UTC) of the usage."""
    provider: str
    model: str


@dataclass(slots=True)
class UsageTotals:
    requests: int = 0
    input_tokens: int = 0
    """All prompt tokens, including cache reads and writes."""
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: UsageTotals) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.output_tokens += other.output_tokens


_TOTAL_FIELDS: Final = (
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
)


@dataclass(slots=True)
class UsageRollup:
    """Usage totals per (day, provider, model) plus the import's row counts; mergeable."""

    entries: dict[UsageKey, UsageTotals] = field(default_factory=dict)
    rows_imported: int = 0
    rows_rejected: int = 0

    def add(self, key: UsageKey, totals: UsageTotals) -> None:
        self.entries.setdefault(key, UsageTotals()).add(totals)

    def merge(self, other: UsageRollup) -> UsageRollup:
        merged = UsageRollup(
            rows_imported=self.rows_imported + other.rows_imported,
            rows_rejected=self.rows_rejected + other.rows_rejected,
        )
        for source in (self, other):
            for key, totals in source.entries.items():
                merged.add(key, totals)
        return merged

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.entries.values())

    @property
    def days(self) -> list[str]:
        return sorted({k.day for k in self.entries})

    def to_json(self) -> dict[str, Any]:
        return {
            "rows_imported": self.rows_imported,
            "rows_rejected": self.rows_rejected,
            "entries": [
                {
                    "day": k.day,
                    "provider": k.provider,
                    "model": k.model,
                    **{name: getattr(t, name) for name in _TOTAL_FIELDS},
                }
                for k, t in sorted(self.entries.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UsageRollup:
        """Rebuild a roll-up; raises ``ValueError`` naming the first bad entry."""
        rollup = cls(
            rows_imported=int(data.get("rows_imported", 0)),
            rows_rejected=int(data.get("rows_rejected", 0)),
        )
        for index, entry in enumerate(data.get("entries", [])):
            try:
                key = UsageKey(str(entry["day"]), str(entry["provider"]), str(entry["model"]))
                totals = UsageTotals(**{name: int(entry[name]) for name in _TOTAL_FIELDS})
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"roll-up entry {index} is not a usage entry ({exc!r}); expected day, "
                    f"provider, model and {', '.join(_TOTAL_FIELDS)}"
                ) from exc
            rollup.add(key, totals)
        return rollup

    def split(self, max_entries: int) -> list[UsageRollup]:
        """Pieces of at most ``max_entries`` entries whose merge is this roll-up
        (the row counts ride on the first piece)."""
        items = sorted(self.entries.items())
        pieces: list[UsageRollup] = []
        for start in range(0, max(len(items), 1), max_entries):
            piece = UsageRollup(entries=dict(items[start : start + max_entries]))
            pieces.append(piece)
        pieces[0].rows_imported = self.rows_imported
        pieces[0].rows_rejected = self.rows_rejected
        return pieces


# ---------------------------------------------------------------- pricing


def _price(provider: str, model: str, totals: UsageTotals, day: str) -> Decimal:
    """Exact list price of ``totals``; raises ``LookupError`` for an unknown model."""
    usage = Usage(
        input_tokens=totals.input_tokens,
        cache_read_tokens=totals.cached_input_tokens,
        cache_write_tokens=totals.cache_write_tokens,
        output_tokens=totals.output_tokens,
    )
    when = datetime.fromisoformat(day).replace(tzinfo=UTC)
    result = calc_price(usage, model_ref=model, provider_id=provider, genai_request_timestamp=when)
    return Decimal(result.total_price)


def _usd(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: str
    title: str
    estimated_monthly_savings_usd: Decimal
    assumption: str
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "estimated_monthly_savings_usd": _usd(self.estimated_monthly_savings_usd),
            "assumption": self.assumption,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class ModelCost:
    provider: str
    model: str
    cost_usd: Decimal
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class Analysis:
    total_cost_usd: Decimal
    by_day: list[tuple[str, Decimal, int]]
    by_model: list[ModelCost]
    recommendations: list[Recommendation]
    unpriced: list[tuple[str, str, UsageTotals, str]]
    rows_imported: int
    rows_rejected: int
    days: int

    def to_json(self) -> dict[str, Any]:
        total = self.total_cost_usd
        return {
            "total_cost_usd": _usd(total),
            "by_day": [
                {"day": day, "cost_usd": _usd(cost), "requests": requests}
                for day, cost, requests in self.by_day
            ],
            "by_model": [
                {
                    "provider": m.provider,
                    "model": m.model,
                    "cost_usd": _usd(m.cost_usd),
                    "share": float((m.cost_usd / total).quantize(Decimal("0.0001")))
                    if total
                    else 0.0,
                    "requests": m.totals.requests,
                    "input_tokens": m.totals.input_tokens,
                    "cached_input_tokens": m.totals.cached_input_tokens,
                    "output_tokens": m.totals.output_tokens,
                }
                for m in self.by_model
            ],
            "recommendations": [r.to_json() for r in self.recommendations],
            "unpriced": [
                {
                    "provider": provider,
                    "model": model,
                    "requests": totals.requests,
                    "input_tokens": totals.input_tokens,
                    "output_tokens": totals.output_tokens,
                    "reason": reason,
                }
                for provider, model, totals, reason in self.unpriced
            ],
            "rows": {"imported": self.rows_imported, "rejected": self.rows_rejected},
        }


def analyze(rollup: UsageRollup) -> Analysis:
    """Price every bucket, total it by day and by model, and derive recommendations."""
    by_day: dict[str, list[Any]] = {}
    by_model: dict[tuple[str, str], tuple[Decimal, UsageTotals]] = {}
    unpriced: dict[tuple[str, str], tuple[UsageTotals, str]] = {}
    for key, totals in sorted(rollup.entries.items()):
        model_key = (key.provider, key.model)
        day_row = by_day.setdefault(key.day, [Decimal(0), 0])
        day_row[1] += totals.requests
        try:
            cost = _price(key.provider, key.model, totals, key.day)
        except LookupError as exc:
            agg, _ = unpriced.get(model_key, (UsageTotals(), ""))
            agg.add(totals)
            unpriced[model_key] = (agg, str(exc))
            continue
        day_row[0] += cost
        cost_so_far, agg = by_model.get(model_key, (Decimal(0), UsageTotals()))
        agg.add(totals)
        by_model[model_key] = (cost_so_far + cost, agg)
    models = sorted(
        (ModelCost(p, m, cost, totals) for (p, m), (cost, totals) in by_model.items()),
        key=lambda mc: (-mc.cost_usd, mc.provider, mc.model),
    )
    days = len(by_day)
    recommendations = sorted(
        [
            *_caching_recommendations(models, days, rollup),
            *_model_recommendations(models, days, rollup),
        ],
        key=lambda r: (-r.estimated_monthly_savings_usd, r.kind, r.title),
    )
    return Analysis(
        total_cost_usd=sum((m.cost_usd for m in models), Decimal(0)),
        by_day=[(day, row[0], row[1]) for day, row in sorted(by_day.items())],
        by_model=models,
        recommendations=recommendations,
        unpriced=[(p, m, t, reason) for (p, m), (t, reason) in sorted(unpriced.items())],
        rows_imported=rollup.rows_imported,
        rows_rejected=rollup.rows_rejected,
        days=days,
    )


def _monthly(amount: Decimal, days: int) -> Decimal:
    return amount * MONTH_DAYS / days if days else Decimal(0)


def _reference_day(rollup_days: Iterable[str]) -> str:
    return max(rollup_days, default=date.today().isoformat())


def _caching_recommendations(
    models: list[ModelCost], days: int, rollup: UsageRollup
) -> list[Recommendation]:
    out = []
    day = _reference_day(rollup.days)
    for m in models:
        t = m.totals
        target = int(t.input_tokens * CACHE_TARGET_SHARE)
        if t.input_tokens == 0 or t.cached_input_tokens >= target:
            continue
        cached = UsageTotals(
            requests=t.requests,
            input_tokens=t.input_tokens,
            cached_input_tokens=target,
            cache_write_tokens=min(t.cache_write_tokens, t.input_tokens - target),
            output_tokens=t.output_tokens,
        )
        # Both sides priced on the last day of the usage: prices are dated.
        try:
            saving = _price(m.provider, m.model, t, day) - _price(m.provider, m.model, cached, day)
        except LookupError:
            continue
        monthly = _monthly(saving, days)
        if monthly < MIN_MONTHLY_SAVINGS_USD:
            continue
        share_now = Decimal(t.cached_input_tokens) / Decimal(t.input_tokens)
        out.append(
            Recommendation(
                kind="caching",
                title=f"Cache the shared prompt prefix on {m.model}",
                estimated_monthly_savings_usd=monthly,
                assumption=(
                    f"a shared prompt prefix lets {CACHE_TARGET_SHARE:.0%} of input tokens be "
                    f"read from the prompt cache (today {share_now:.1%})"
                ),
                evidence=(
                    f"{m.model}: {t.requests:,} requests, {t.input_tokens:,} input tokens of "
                    f"which {t.cached_input_tokens:,} cached, ${_usd(m.cost_usd):,.2f} over "
                    f"{days} days"
                ),
            )
        )
    return out


def _model_recommendations(
    models: list[ModelCost], days: int, rollup: UsageRollup
) -> list[Recommendation]:
    out = []
    day = _reference_day(rollup.days)
    for m in models:
        cheaper = CHEAPER_SIBLING.get((m.provider, m.model))
        if cheaper is None:
            continue
        try:
            now_cost = _price(m.provider, m.model, m.totals, day)
            alt_cost = _price(m.provider, cheaper, m.totals, day)
        except LookupError:
            continue
        monthly = _monthly((now_cost - alt_cost) * SWITCH_SHARE, days)
        if monthly < MIN_MONTHLY_SAVINGS_USD:
            continue
        out.append(
            Recommendation(
                kind="model_choice",
                title=f"Route simple {m.model} requests to {cheaper}",
                estimated_monthly_savings_usd=monthly,
                assumption=(
                    f"{SWITCH_SHARE:.0%} of {m.model} traffic is simple enough for {cheaper}; "
                    "same tokens priced on both models"
                ),
                evidence=(
                    f"{m.model}: {m.totals.requests:,} requests cost ${_usd(now_cost):,.2f} over "
                    f"{days} days; the same tokens on {cheaper} cost ${_usd(alt_cost):,.2f}"
                ),
            )
        )
    return out


# ---------------------------------------------------------------- report


def render_markdown(analysis: Analysis) -> str:
    """The report as markdown; every number comes from ``analysis``."""
    data = analysis.to_json()
    lines = [
        "# AI cost report",
        "",
        f"**Total spend:** ${data['total_cost_usd']:,.2f} over {analysis.days} days "
        f"({data['rows']['imported']:,} usage rows"
        + (f", {data['rows']['rejected']:,} rejected" if data["rows"]["rejected"] else "")
        + ").",
        "",
    ]
    if data["by_model"]:
        lines += [
            "## Spend by model",
            "",
            "| model | requests | cost | share |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {m['provider']}/{m['model']} | {m['requests']:,} | ${m['cost_usd']:,.2f} | "
            f"{m['share']:.1%} |"
            for m in data["by_model"]
        ]
        lines.append("")
    recs = data["recommendations"]
    if recs:
        total = sum(r["estimated_monthly_savings_usd"] for r in recs)
        lines += [
            f"## Savings: up to ${total:,.2f} a month",
            "",
            "Changes on the same model overlap, so their savings do not simply add up.",
            "",
        ]
        for i, r in enumerate(recs, 1):
            lines += [
                f"{i}. **{r['title']}** — ${r['estimated_monthly_savings_usd']:,.2f}/month",
                f"   - assumption: {r['assumption']}",
                f"   - evidence: {r['evidence']}",
            ]
        lines.append("")
    else:
        lines += ["## Savings", "", "No change saves at least $1 a month on this usage.", ""]
    if data["unpriced"]:
        lines += ["## Not priced", ""]
        lines += [
            f"- {u['provider']}/{u['model']}: {u['requests']:,} requests (no list price known)"
            for u in data["unpriced"]
        ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- demo data

_DEMO_MODELS: Final = (
    # provider, model, requests/day, input tokens/request, output tokens/request, cache share
    ("openai", "gpt-4o", 900, 3200, 450, 0.05),
    ("openai", "gpt-4o-mini", 4000, 1200, 220, 0.30),
    ("anthropic", "claude-sonnet-4-5", 600, 5200, 700, 0.10),
    ("anthropic", "claude-haiku-4-5", 1500, 900, 150, 0.60),
)


def demo_rollup(seed: int, *, now: datetime, days: int = MONTH_DAYS) -> UsageRollup:
    """``days`` days of usage ending the day before ``now``; the same seed and day give the
    same roll-up."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    rollup = UsageRollup()
    last = now.astimezone(UTC).date() - timedelta(days=1)
    for offset in range(days - 1, -1, -1):
        day = (last - timedelta(days=offset)).isoformat()
        for provider, model, per_day, tin, tout, cache_share in _DEMO_MODELS:
            requests = int(per_day * rng.uniform(0.7, 1.3))
            input_tokens = requests * int(tin * rng.uniform(0.8, 1.2))
            rollup.add(
                UsageKey(day, provider, model),
                UsageTotals(
                    requests=requests,
                    input_tokens=input_tokens,
                    cached_input_tokens=int(input_tokens * cache_share),
                    output_tokens=requests * int(tout * rng.uniform(0.8, 1.2)),
                ),
            )
            rollup.rows_imported += requests
    return rollup
