"""Which sockets get which run events, and in what order: pure, no I/O.

* :class:`Registry` maps a user to the sockets that user has open on this
  instance; a run event goes to every socket of its ``user_id`` and to no one
  else.
* :class:`RunCursors` is one socket's memory of the runs it has seen: the last
  ``seq`` sent per run, and the events held back while a gap is being filled.
  A live event at or below the last seq sent is a duplicate and is dropped; the
  next seq is sent at once (with any held-back events that now follow on); an
  event beyond the next seq of a *followed* run (one the socket sent a message
  for, or resumed) is held back and the missing seqs are asked for, which the
  caller reads from Firestore and hands to :meth:`RunCursors.fill`. For a run
  the socket does not follow, the first event seen starts the cursor and later
  gaps are not filled (the client never asked for that run's history).
  :meth:`RunCursors.unfinished` names the followed runs whose terminal event has
  not been sent yet: the ones whose tail the caller checks in the store when the
  event stream goes quiet (a stream can stall or lose its subscription).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from apex_core.protocol import is_terminal_event

Frame = dict[str, Any]
S = TypeVar("S")


class Registry(Generic[S]):
    """The open sockets of each user on this instance."""

    def __init__(self) -> None:
        self._by_user: dict[str, set[S]] = {}

    def add(self, user_id: str, sink: S) -> None:
        self._by_user.setdefault(user_id, set()).add(sink)

    def remove(self, user_id: str, sink: S) -> None:
        sinks = self._by_user.get(user_id)
        if sinks is None:
            return
        sinks.discard(sink)
        if not sinks:
            del self._by_user[user_id]

    def sinks(self, user_id: str) -> frozenset[S]:
        return frozenset(self._by_user.get(user_id, ()))

    def count(self, user_id: str) -> int:
        return len(self._by_user.get(user_id, ()))

    def all(self) -> list[S]:
        return [sink for sinks in self._by_user.values() for sink in sinks]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What to do after an event arrived: frames to send now, in this order, and
    the inclusive range of seqs to read from the store (``None``: no gap)."""

    send: list[Frame]
    missing: tuple[int, int] | None = None


@dataclass(slots=True)
class _Run:
    last_sent: int
    followed: bool
    # Every seq from sent_from to last_sent has reached the client on this socket.
    sent_from: int
    pending: dict[int, Frame] = field(default_factory=dict)
    finished: bool = False  # the run's terminal event was sent


class RunCursors:
    """One socket's cursor per run: dedupe, ordering and gap detection."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}

    def follow(self, run_id: str, *, after_seq: int | None = None) -> None:
        """Follow ``run_id``: its gaps will be filled.

        ``after_seq=None`` keeps what was already sent (or starts before seq 1);
        a number restarts the cursor there (a ``resume``), unless this socket
        already sent every seq from ``after_seq + 1`` on, in which case nothing
        is sent twice. Held-back events beyond the cursor are kept.
        """
        run = self._runs.get(run_id)
        if run is None:
            start = after_seq or 0
            self._runs[run_id] = _Run(last_sent=start, followed=True, sent_from=start + 1)
            return
        run.followed = True
        if after_seq is None or run.sent_from <= after_seq + 1 <= run.last_sent + 1:
            return
        run.last_sent, run.sent_from = after_seq, after_seq + 1
        run.pending = {seq: ev for seq, ev in run.pending.items() if seq > after_seq}

    def is_followed(self, run_id: str) -> bool:
        run = self._runs.get(run_id)
        return run is not None and run.followed

    def unfinished(self) -> list[str]:
        """Followed runs whose terminal event this socket has not sent yet."""
        return [run_id for run_id, run in self._runs.items() if run.followed and not run.finished]

    def last_sent(self, run_id: str) -> int:
        run = self._runs.get(run_id)
        return 0 if run is None else run.last_sent

    def missing(self, run_id: str) -> tuple[int, int] | None:
        """The inclusive range of seqs a followed run is waiting for, if any."""
        run = self._runs.get(run_id)
        if run is None or not run.pending:
            return None
        return (run.last_sent + 1, min(run.pending) - 1)

    def offer(self, event: Frame) -> Delivery:
        """A live event arrived for this socket."""
        run_id, seq = str(event["run_id"]), int(event["seq"])
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _Run(last_sent=seq - 1, followed=False, sent_from=seq)
        if seq <= run.last_sent or seq in run.pending:
            return Delivery(send=[])
        run.pending[seq] = event
        return self._flush(run)

    def fill(self, run_id: str, stored: Iterable[Frame]) -> Delivery:
        """Events of ``run_id`` read from the store (any order, any overlap)."""
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _Run(last_sent=0, followed=True, sent_from=1)
        for event in stored:
            seq = int(event["seq"])
            if seq > run.last_sent and seq not in run.pending:
                run.pending[seq] = event
        return self._flush(run)

    def skip_gap(self, run_id: str) -> list[Frame]:
        """Give up on the missing seqs: the held-back events, in order."""
        run = self._runs.get(run_id)
        if run is None or not run.pending:
            return []
        return self._skip(run)

    def _flush(self, run: _Run) -> Delivery:
        send: list[Frame] = []
        while run.last_sent + 1 in run.pending:
            run.last_sent += 1
            send.append(run.pending.pop(run.last_sent))
            run.finished = run.finished or is_terminal_event(send[-1])
        if not run.pending:
            return Delivery(send=send)
        if not run.followed:
            # Not a run this socket asked for: pass events on as they come.
            return Delivery(send=send + self._skip(run))
        return Delivery(send=send, missing=(run.last_sent + 1, min(run.pending) - 1))

    @staticmethod
    def _skip(run: _Run) -> list[Frame]:
        seqs = sorted(run.pending)
        run.sent_from = seqs[0]
        for previous, seq in itertools.pairwise(seqs):
            if seq != previous + 1:
                run.sent_from = seq
        run.last_sent = seqs[-1]
        sent = [run.pending.pop(seq) for seq in seqs]
        run.finished = run.finished or any(is_terminal_event(frame) for frame in sent)
        return sent
