"""``render_markdown``: the human report of an :class:`Analysis`; every number comes from it."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from apex_core.cost.analysis.analyze import Analysis

SIGNIFICANT_FIGURES: Final = 3
"""Digits shown for an amount under a dollar ($0.247, $0.0073); a dollar or more shows cents."""


def format_usd(amount: float | Decimal | None) -> str:
    """The one money rule (report, page, ``apex chat``): cents from a dollar up, else 3 figures.

    ``1234.5`` -> ``$1,234.50``; ``0.2473`` -> ``$0.247``; ``0.13`` -> ``$0.13``;
    ``0.000123456`` -> ``$0.000123``; ``0`` -> ``$0.00``; ``-0.5`` -> ``-$0.50``;
    ``None`` -> ``n/a``.
    """
    if amount is None:
        return "n/a"
    value = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1 or value == 0:
        return f"{sign}${value.quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"
    decimals = max(2, SIGNIFICANT_FIGURES - value.adjusted() - 1)
    rounded = value.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN)
    if rounded >= 1:
        return f"{sign}$1.00"
    text = f"{rounded:f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{sign}${whole}.{fraction.ljust(2, '0')}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") or "(none)"


def _table(headers: list[str], rows: list[list[Any]], *, numeric: int = 0) -> list[str]:
    """A markdown table whose last ``numeric`` columns hold numbers (right-aligned)."""
    align = ["---"] * (len(headers) - numeric) + ["---:"] * numeric
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _period(period: dict[str, Any]) -> str:
    """``over 29.8 days (2026-10-28 to 2026-11-26)``, or hours within one day."""
    first, last = period["first_seen"], period["last_seen"]
    if first is None or last is None:
        return "over no recorded time"
    days = float(period["days"])
    length = f"{days:.1f} days" if days >= 1 else f"{days * 24:.1f} hours"
    if first[:10] == last[:10]:
        return f"over {length} ({first[:10]}, {first[11:16]} to {last[11:16]} UTC)"
    return f"over {length} ({first[:10]} to {last[:10]})"


def _monthly(amount: float, period: dict[str, Any]) -> str:
    """A monthly figure with its factor, called an extrapolation when the window is short."""
    factor = f"x{period['monthly_scale']:.3g}"
    if period.get("short_window"):
        return f"{format_usd(amount)} a month extrapolated {factor} from a short window"
    return f"{format_usd(amount)} a month, {factor}"


def _headline(total: float, period: dict[str, Any]) -> str:
    """Observed total and per-day rate, then the monthly figure labelled by what it stands on."""
    line = f"**Total: {format_usd(total)}** {_period(period)}"
    if period.get("cost_per_day_usd") is not None:
        line += f", {format_usd(period['cost_per_day_usd'])} per day"
    monthly = period["projected_monthly_cost_usd"]
    if period.get("weekend_only"):
        return (
            f"{line}. The data covers only a weekend, and weekday usage usually differs: "
            "no monthly figure is extrapolated from it."
        )
    if period.get("short_window"):
        why = "under 7 days of data" if period["days"] < 7 else "fewer than two of each weekday"
        return (
            f"{line}. Short window ({why}): a month would be {format_usd(monthly)} only as an "
            f"extrapolation x{period['monthly_scale']:.3g} of this window; read it as a rough "
            "order of magnitude."
        )
    return f"{line}; projected {_monthly(monthly, period)}."


def _evidence(item: dict[str, Any]) -> str:
    evidence = item["evidence"]
    return (
        f"{evidence['requests']:,} requests on {evidence['model']}: "
        f"{format_usd(evidence['observed_cost_usd'])} as used, "
        f"{format_usd(evidence['what_if_cost_usd'])} repriced"
    )


def render_markdown(analysis: Analysis, *, top: int = 10) -> str:
    """The markdown report: totals, top models, breakdowns, recommendations, unpriced, rows."""
    data = analysis.to_json()
    period = data["period"]
    total = data["total_cost_usd"]
    savings = sum(item["estimated_monthly_savings_usd"] for item in data["recommendations"])
    out = ["# AI cost analysis", ""]
    out.append(_headline(total, period))
    units = data["unit_costs"]
    out.append(
        f"{units['requests']:,} requests, {units['tokens']:,} tokens: "
        f"{format_usd(units['cost_per_request_usd'])} per request, "
        f"{format_usd(units['cost_per_1k_tokens_usd'])} per 1K tokens."
    )
    out += ["", "## Top models", ""]
    out += _table(
        ["Provider", "Model", "Requests", "Input tokens", "Cached input", "Output tokens", "Cost"],
        [
            [m["provider"], m["model"], f"{m['requests']:,}", f"{m['input_tokens']:,}",
             f"{m['cached_input_tokens']:,}", f"{m['output_tokens']:,}", format_usd(m["cost_usd"])]
            for m in data["by_model"][:top]
        ],
        numeric=5,
    )  # fmt: skip
    out += ["", "## Recommendations", ""]
    if data["recommendations"]:
        observed = sum(item["observed_savings_usd"] for item in data["recommendations"])
        out.append(
            f"Up to {format_usd(observed)} over the observed period ({_monthly(savings, period)}) "
            "if every change were applied independently (savings overlap, so they do not "
            "simply add up). Ranked by observed savings."
        )
        out.append("")
        out += _table(
            [
                "#",
                "Change",
                "Saved (observed)",
                f"Saves / month (x{period['monthly_scale']:.3g})",
                "Evidence",
                "Assumption",
            ],
            [
                [
                    index,
                    item["title"],
                    format_usd(item["observed_savings_usd"]),
                    format_usd(item["estimated_monthly_savings_usd"]),
                    _evidence(item),
                    item["assumption"],
                ]
                for index, item in enumerate(data["recommendations"], start=1)
            ],
        )
    else:
        out.append("No change found that saves at least a cent a month on this usage.")
    for title, key, label in (
        ("By provider", "by_provider", "provider"),
        ("By feature", "by_feature", "feature"),
        ("Top end users", "by_end_user", "end_user"),
    ):
        rows = data[key][:top]
        if len(rows) > 1 or (rows and rows[0][label]):
            out += ["", f"## {title}", ""]
            out += _table([label.replace("_", " ").capitalize(), "Requests", "Cost"],
                          [[r[label], f"{r['requests']:,}", format_usd(r["cost_usd"])] for r in rows], numeric=2)  # fmt: skip
    if len(data["week_over_week"]) > 1:
        weeks = data["week_over_week"]
        out += ["", "## Week over week", ""]
        out.append(
            "Weeks start on Monday. Each change compares the average cost per day with the "
            "previous week's, so a partial week (fewer than 7 days of data) is compared like "
            "with like; its total covers only the days shown."
        )
        out.append("")
        out += _table(["Week of", "Days", "Cost", "Per day", "Change per day"], [
            [w["week_start"] + (" (partial)" if w["partial"] else ""), f"{w['days']} of 7",
             format_usd(w["cost_usd"]), format_usd(w["cost_per_day_usd"]),
             "-" if w["change_pct"] is None else f"{w['change_pct']:+.1f}%"]
            for w in weeks
        ], numeric=4)  # fmt: skip
    if data["spike_days"]:
        out += ["", "## Spike days", ""]
        out += _table(["Date", "Cost", "x median day"], [
            [s["date"], format_usd(s["cost_usd"]), f"{s['ratio']:g}"] for s in data["spike_days"]
        ], numeric=2)  # fmt: skip
    if data["unpriced"]:
        out += ["", "## Unpriced models (not in any total)", ""]
        out += _table(["Provider", "Model", "Records", "Input tokens", "Output tokens"], [
            [u["provider"], u["model"], f"{u['records']:,}", f"{u['input_tokens']:,}",
             f"{u['output_tokens']:,}"] for u in data["unpriced"]
        ], numeric=3)  # fmt: skip
    rows_info = data["rows"]
    out += ["", "## Rows", ""]
    empty = rows_info.get("empty_buckets", 0)
    out.append(
        f"{rows_info['read']:,} read, {rows_info['imported']:,} imported, "
        + (f"{empty:,} empty bucket{'' if empty == 1 else 's'} (no usage), " if empty else "")
        + f"{rows_info['rejected']:,} rejected."
    )
    for reason, count in rows_info["reasons"].items():
        out.append(f"- {count:,} x {reason}")
    for example in rows_info["examples"][:top]:
        place = f"{example['source']}:{example['line']}" if example["line"] else (
            f"{example['source']} {example['where']}"
        )  # fmt: skip
        out.append(f"  - e.g. {place}: {example['reason']}: {example['detail']}")
    for note in data["notes"]:
        out.append(f"- Note: {note}")
    out.append("")
    return "\n".join(out)
