"""Document ids and shapes of the storage schema (apex_core.schema)."""

from __future__ import annotations

from apex_core import schema


def test_named_messages_get_stable_per_user_ids() -> None:
    assert schema.run_id_for("alice", "m1") == schema.run_id_for("alice", "m1")
    assert schema.run_id_for("alice", "m1") != schema.run_id_for("bob", "m1")
    assert schema.run_id_for("alice", "m1") != schema.run_id_for("alice", "m2")
    assert schema.thread_id_for("alice", "m1") != schema.run_id_for("alice", "m1")


def test_unnamed_messages_get_fresh_ids() -> None:
    assert schema.run_id_for("alice", None) != schema.run_id_for("alice", None)
    assert schema.thread_id_for("alice", None) != schema.thread_id_for("alice", None)


def test_paths_follow_the_design() -> None:
    assert schema.event_path("r-1", 7) == "runs/r-1/events/7"
    assert (
        schema.message_path("t-1", schema.user_message_id("r-1")) == "threads/t-1/messages/r-1-user"
    )


def test_titles_are_one_line_and_cut_at_a_word() -> None:
    assert schema.thread_title("  Analyze\nmy   costs ") == "Analyze my costs"
    long = schema.thread_title("word " * 40)
    assert len(long) <= schema.TITLE_MAX_CHARS
    assert long.endswith("word…")
