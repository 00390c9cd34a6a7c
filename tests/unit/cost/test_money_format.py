"""One money rule: cents from a dollar up, three significant figures below a dollar."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from apex_core.cost import accumulate, analyze, read_usage, render_markdown
from apex_core.cost.analysis.report import format_usd
from tests.unit.cost.conftest import shared_trace


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (1234.5, "$1,234.50"),
        (182.4817, "$182.48"),
        (1, "$1.00"),
        (0.9999, "$1.00"),
        (0.2473, "$0.247"),
        (0.13, "$0.13"),
        (Decimal("0.1300"), "$0.13"),
        (0.0073, "$0.0073"),
        (0.000123456, "$0.000123"),
        (0, "$0.00"),
        (-0.5, "-$0.50"),
        (None, "n/a"),
    ],
)
def test_format_usd(amount: float | Decimal | None, shown: str) -> None:
    assert format_usd(amount) == shown


def test_every_amount_in_a_real_report_follows_the_rule() -> None:
    path = shared_trace("burstgpt/BurstGPT_1_first400.csv")
    mapping = "ChatGPT=openai:gpt-3.5-turbo,GPT-4=openai:gpt-4"
    text = render_markdown(analyze(accumulate(read_usage(path, model_mapping=mapping))))
    amounts = re.findall(r"\$([0-9][0-9,]*\.[0-9]+)", text)
    assert len(amounts) > 10
    for amount in amounts:
        value = Decimal(amount.replace(",", ""))
        if value >= 1:
            assert len(amount.split(".")[1]) == 2, amount
        else:
            digits = amount.split(".")[1].lstrip("0")
            assert 1 <= len(digits) <= 3, amount
            assert not (len(amount.split(".")[1]) > 2 and amount.endswith("0")), amount
