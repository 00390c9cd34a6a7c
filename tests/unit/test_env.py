"""Settings parsers (apex_core.env): defaults, accepted values, and refusals that name
the variable, what was expected and what arrived."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apex_core.env import Env, SettingsError


def test_unset_or_blank_gives_the_default_and_values_are_stripped() -> None:
    env = Env({"BLANK": "  ", "S": " 2.5 ", "N": "7", "P": "443"})
    assert env.seconds("MISSING", 1.0) == 1.0
    assert env.seconds("S", 1.0) == 2.5
    assert env.seconds("BLANK", 1.0) == 1.0
    assert env.count("N", 1) == 7
    assert env.port("P", 80) == 443
    assert Env({"Z": "0"}).seconds("Z", 1.0, allow_zero=True) == 0.0


@pytest.mark.parametrize(
    ("read", "raw", "message"),
    [
        (
            lambda env: env.seconds("X", 1.0),
            "soon",
            "X must be a number of seconds, more than 0; it is 'soon'",
        ),
        (
            lambda env: env.seconds("X", 1.0),
            "0",
            "X must be a number of seconds, more than 0; it is '0'",
        ),
        (
            lambda env: env.seconds("X", 1.0),
            "inf",
            "X must be a number of seconds, more than 0; it is 'inf'",
        ),
        (
            lambda env: env.seconds("X", 1.0),
            "nan",
            "X must be a number of seconds, more than 0; it is 'nan'",
        ),
        (
            lambda env: env.number("X", 0.0, unit="milliseconds", allow_zero=True),
            "-1",
            "X must be a number of milliseconds, 0 or more; it is '-1'",
        ),
        (
            lambda env: env.count("X", 1),
            "2.5",
            "X must be a whole number of at least 1; it is '2.5'",
        ),
        (lambda env: env.count("X", 1), "0", "X must be a whole number of at least 1; it is '0'"),
        (lambda env: env.count("X", 1), "-3", "X must be a whole number of at least 1; it is '-3'"),
        (lambda env: env.count("X", 1), "٣", "X must be a whole number of at least 1; it is '٣'"),
        (lambda env: env.port("X", 80), "70000", "X must be a TCP port (1-65535); it is '70000'"),
        (lambda env: env.port("X", 80), "http", "X must be a TCP port (1-65535); it is 'http'"),
    ],
)
def test_a_value_that_cannot_be_used_is_refused_with_what_was_expected_and_what_arrived(
    read: Callable[[Env], object], raw: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        read(Env({"X": raw}))
    assert refused.value.message == message
    assert refused.value.code == "misconfigured"
