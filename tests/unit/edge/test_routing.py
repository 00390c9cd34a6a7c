"""Per-socket run cursors (dedupe, order, gaps) and the per-user registry (edge_ws.routing)."""

from __future__ import annotations

from edge_ws.routing import Delivery, Frame, Registry, RunCursors


def ev(seq: int, run_id: str = "r-1") -> Frame:
    return {"type": "agent_thinking", "run_id": run_id, "seq": seq}


def seqs(frames: list[Frame]) -> list[int]:
    return [int(f["seq"]) for f in frames]


def test_a_followed_run_sends_in_order_and_drops_duplicates() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    assert cursors.offer(ev(1)) == Delivery(send=[ev(1)])
    assert cursors.offer(ev(2)) == Delivery(send=[ev(2)])
    assert cursors.offer(ev(2)) == Delivery(send=[])
    assert cursors.offer(ev(1)) == Delivery(send=[])
    assert cursors.last_sent("r-1") == 2


def test_a_gap_in_a_followed_run_holds_events_and_asks_for_the_missing_seqs() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    assert cursors.offer(ev(1)).send == [ev(1)]
    held = cursors.offer(ev(4))
    assert held == Delivery(send=[], missing=(2, 3))
    assert cursors.missing("r-1") == (2, 3)
    # The same held event again is a duplicate, not a second copy.
    assert cursors.offer(ev(4)) == Delivery(send=[])
    # The store has 2 and 3: all three go out, in order.
    filled = cursors.fill("r-1", [ev(3), ev(2)])
    assert seqs(filled.send) == [2, 3, 4]
    assert filled.missing is None
    assert cursors.missing("r-1") is None


def test_a_partial_fill_keeps_waiting_for_the_rest() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    cursors.offer(ev(5))
    partial = cursors.fill("r-1", [ev(1), ev(2)])
    assert seqs(partial.send) == [1, 2]
    assert partial.missing == (3, 4)
    # A late live event closes the gap.
    assert seqs(cursors.offer(ev(4)).send) == []
    assert seqs(cursors.offer(ev(3)).send) == [3, 4, 5]


def test_fill_ignores_what_was_already_sent() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    cursors.offer(ev(1))
    cursors.offer(ev(2))
    assert cursors.fill("r-1", [ev(1), ev(2)]) == Delivery(send=[])
    assert seqs(cursors.fill("r-1", [ev(1), ev(2), ev(3)]).send) == [3]


def test_skip_gap_sends_the_held_events_in_order() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    cursors.offer(ev(3))
    cursors.offer(ev(6))
    assert seqs(cursors.skip_gap("r-1")) == [3, 6]
    assert cursors.last_sent("r-1") == 6
    assert cursors.missing("r-1") is None
    assert cursors.skip_gap("r-1") == []


def test_an_unfollowed_run_starts_at_its_first_event_and_is_not_filled() -> None:
    cursors = RunCursors()
    assert cursors.offer(ev(5)) == Delivery(send=[ev(5)])
    assert not cursors.is_followed("r-1")
    assert cursors.offer(ev(5)) == Delivery(send=[])
    # A gap in a run this socket never asked for: passed on as it comes.
    assert cursors.offer(ev(8)) == Delivery(send=[ev(8)])
    assert cursors.offer(ev(7)) == Delivery(send=[])


def test_runs_are_independent() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    cursors.follow("r-2")
    assert seqs(cursors.offer(ev(1, "r-1")).send) == [1]
    assert seqs(cursors.offer(ev(1, "r-2")).send) == [1]
    assert cursors.offer(ev(3, "r-2")).missing == (2, 2)
    assert seqs(cursors.offer(ev(2, "r-1")).send) == [2]


def test_resume_restarts_the_cursor_at_after_seq() -> None:
    cursors = RunCursors()
    cursors.follow("r-1", after_seq=3)
    assert cursors.last_sent("r-1") == 3
    assert cursors.offer(ev(3)) == Delivery(send=[])
    assert cursors.offer(ev(5)).missing == (4, 4)
    replay = cursors.fill("r-1", [ev(4), ev(5)])
    assert seqs(replay.send) == [4, 5]


def test_resume_does_not_resend_what_this_socket_already_sent() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    for seq in (1, 2, 3, 4):
        cursors.offer(ev(seq))
    cursors.follow("r-1", after_seq=2)
    assert cursors.last_sent("r-1") == 4
    assert cursors.fill("r-1", [ev(3), ev(4)]) == Delivery(send=[])


def test_resume_before_what_this_socket_saw_replays_from_after_seq() -> None:
    cursors = RunCursors()
    cursors.offer(ev(5))  # first seen mid-run, not followed
    cursors.follow("r-1", after_seq=0)
    assert cursors.is_followed("r-1")
    assert cursors.last_sent("r-1") == 0
    assert seqs(cursors.fill("r-1", [ev(n) for n in range(1, 6)]).send) == [1, 2, 3, 4, 5]


def test_resume_keeps_held_events_beyond_after_seq() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    cursors.offer(ev(1))
    cursors.offer(ev(4))  # held: 2 and 3 are missing
    cursors.follow("r-1", after_seq=0)
    # 1 was sent on this socket already; 4 stays held until 2 and 3 are there.
    assert seqs(cursors.fill("r-1", [ev(1), ev(2), ev(3)]).send) == [2, 3, 4]


def test_registry_maps_users_to_their_sockets() -> None:
    registry: Registry[str] = Registry()
    registry.add("alice", "tab-1")
    registry.add("alice", "tab-2")
    registry.add("bob", "phone")
    assert registry.sinks("alice") == {"tab-1", "tab-2"}
    assert registry.sinks("carol") == frozenset()
    assert registry.count("alice") == 2
    registry.remove("alice", "tab-1")
    registry.remove("alice", "tab-1")
    registry.remove("dave", "nothing")
    assert registry.sinks("alice") == {"tab-2"}
    registry.remove("alice", "tab-2")
    assert registry.count("alice") == 0
    assert registry.all() == ["phone"]


def test_unfinished_names_followed_runs_until_their_terminal_event_is_sent() -> None:
    cursors = RunCursors()
    cursors.follow("r-1")
    cursors.follow("r-2")
    cursors.offer(ev(1, "r-other"))  # not followed: never checked in the store
    assert sorted(cursors.unfinished()) == ["r-1", "r-2"]
    terminal = {**ev(2), "type": "agent_completed", "agent": "supervisor", "final": True}
    cursors.offer(ev(1))
    assert cursors.offer(terminal).missing is None
    assert cursors.unfinished() == ["r-2"]
    # A sub-agent's agent_completed does not end the run; the store's tail does.
    cursors.fill("r-2", [{**ev(1, "r-2"), "type": "agent_completed", "agent": "triage"}])
    assert cursors.unfinished() == ["r-2"]
    cursors.fill("r-2", [{**ev(2, "r-2"), "type": "agent_error", "agent": "supervisor"}])
    assert cursors.unfinished() == []
