"""Shared names: the shape of a demo user's id (apex_core.names)."""

from __future__ import annotations

from datetime import UTC, datetime

from apex_core import names
from apex_core.identity import new_demo_user_id


def test_a_new_demo_user_id_is_recognised_as_one_and_a_signed_in_user_is_not() -> None:
    user_id = new_demo_user_id(datetime(2026, 1, 2, tzinfo=UTC))
    assert user_id.startswith(f"demo-user-{int(datetime(2026, 1, 2, tzinfo=UTC).timestamp())}-")
    assert names.is_demo_user_id(user_id)
    assert not names.is_demo_user_id("auth0|5f1c")
    assert not names.is_demo_user_id("user-demo-user-1")
