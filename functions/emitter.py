"""Run events: numbering, store-before-publish, replay after a redelivery, the terminal event.

:class:`RunEmitter` gives each event of a run the next ``seq`` (1, 2, 3 … no
gap) and hands it to an :class:`EventSink`, which stores it *before* it is
published. The sink is the seam: :class:`functions.run_store.FirestoreEventSink`
writes Firestore and publishes to Pub/Sub; :class:`MemorySink` keeps everything
in memory for unit tests.

Replay: the pipeline is deterministic, so a redelivery after a crash regenerates
the same sequence. When the sink reports that a seq is already stored, the
*stored* event is published instead of the regenerated one (Firestore stays
authoritative; a client never sees one seq with two contents). A stored
terminal event means the run was finished elsewhere: :class:`RunAlreadyFinished`.

The terminal event (:meth:`RunEmitter.finish`) is written together with the
run's terminal transition, guarded by the run not being terminal yet, at
``max(next seq, stored last_seq + 1)``; stored events the replay had not reached
yet are republished first, so the stream a client sees stays gap-free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from apex_core.protocol import RunEvent, is_terminal_event, utc_now_rfc3339
from functions.errors import RunAlreadyFinished

Event = dict[str, Any]
TerminalStatus = Literal["completed", "failed", "cancelled", "timed_out"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TerminalOutcome:
    """How a run ends: its status, the assistant message's text, and ``result`` or ``error``."""

    status: TerminalStatus
    message_text: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    thread_query: dict[str, Any] | None = None
    """The run's query (``apex.query.v1``), stored on the thread as ``last_query`` for the
    next follow-up; ``None`` leaves the thread's ``last_query`` as it is."""


class EventSink(Protocol):
    """Where a run's events go: durable storage first, then the event stream."""

    def append(self, event: Event) -> Event | None:
        """Store ``event`` at its ``seq``; if an event is already stored there, store nothing
        and return the stored one."""
        ...

    def read(self, seq: int) -> Event | None:
        """The stored event at ``seq``, if any."""
        ...

    def publish(self, event: Event) -> None:
        """Send a stored event to the stream (may complete asynchronously; see ``flush``)."""
        ...

    def flush(self) -> None:
        """Wait until everything published so far is sent; raise if any publish failed."""
        ...

    def finish(
        self, outcome: TerminalOutcome, make_event: Callable[[int], Event], min_seq: int
    ) -> Event | None:
        """Atomically, unless the run is already terminal: store ``make_event(seq)`` at
        ``seq = max(min_seq, last_seq + 1)`` and apply ``outcome``. Returns the stored
        event, or ``None`` when the run was already terminal."""
        ...


class RunEmitter:
    """Numbers, stores and publishes the events of one run (one delivery of its request)."""

    def __init__(
        self,
        sink: EventSink,
        *,
        run_id: str,
        thread_id: str,
        clock: Callable[[], str] = utc_now_rfc3339,
        first_seq: int = 1,
    ) -> None:
        self._sink = sink
        self._run_id = run_id
        self._thread_id = thread_id
        self._clock = clock
        self._next_seq = first_seq
        self.replayed = 0
        """How many events were found already stored and republished."""
        self.terminal: Event | None = None
        """The terminal event this emitter stored, once :meth:`finish` stored one."""

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def _build(self, seq: int, agent: str, type_: str, fields: dict[str, Any]) -> Event:
        event: Event = {
            "type": type_,
            "run_id": self._run_id,
            "thread_id": self._thread_id,
            "seq": seq,
            "ts": self._clock(),
            "agent": agent,
            **fields,
        }
        RunEvent.model_validate(event)  # a malformed event is a bug: fail loudly here
        return event

    def emit(self, agent: str, type_: str, **fields: Any) -> Event:
        """Store and publish one non-terminal event; returns the event as published."""
        event = self._build(self._next_seq, agent, type_, fields)
        stored = self._sink.append(event)
        if stored is not None:
            if is_terminal_event(stored):
                raise RunAlreadyFinished(
                    f"run {self._run_id} already has its terminal event at seq {stored['seq']}"
                )
            if (stored.get("type"), stored.get("agent")) != (type_, agent):
                log.warning(
                    "replay diverged at seq %s: stored %s/%s, regenerated %s/%s; "
                    "publishing the stored event",
                    event["seq"],
                    stored.get("agent"),
                    stored.get("type"),
                    agent,
                    type_,
                )
            self.replayed += 1
            event = stored
        self._sink.publish(event)
        self._next_seq += 1
        return event

    def finish(
        self, agent: str, type_: str, outcome: TerminalOutcome, **fields: Any
    ) -> Event | None:
        """Store the run's terminal event with its terminal transition, then publish it.

        Returns ``None`` (and publishes nothing) when the run was already terminal.
        """
        self._sink.flush()  # a lost publish must fail this delivery before the run ends

        def make_event(seq: int) -> Event:
            return self._build(seq, agent, type_, fields)

        event = self._sink.finish(outcome, make_event, self._next_seq)
        if event is None:
            return None
        for seq in range(self._next_seq, event["seq"]):
            stored = self._sink.read(seq)
            if stored is None:
                raise LookupError(
                    f"run {self._run_id}: event seq {seq} is below last_seq but not stored"
                )
            self._sink.publish(stored)
        self._sink.publish(event)
        self._next_seq = event["seq"] + 1
        self.terminal = event
        self._sink.flush()
        return event


@dataclass
class MemorySink:
    """An :class:`EventSink` in memory, with the same rules as the Firestore one.

    ``stored`` is what storage holds, ``published`` what was sent, in order.
    """

    stored: dict[int, Event] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)
    outcome: TerminalOutcome | None = None
    fail_flush: bool = False

    @property
    def last_seq(self) -> int:
        return max(self.stored, default=0)

    def append(self, event: Event) -> Event | None:
        seq = event["seq"]
        if seq in self.stored:
            return self.stored[seq]
        if seq != self.last_seq + 1:
            raise AssertionError(f"gap: appending seq {seq} after {self.last_seq}")
        self.stored[seq] = dict(event)
        return None

    def read(self, seq: int) -> Event | None:
        return self.stored.get(seq)

    def publish(self, event: Event) -> None:
        if event["seq"] not in self.stored:
            raise AssertionError(f"published seq {event['seq']} before storing it")
        self.published.append(dict(event))

    def flush(self) -> None:
        if self.fail_flush:
            raise ConnectionError("publish failed")

    def finish(
        self, outcome: TerminalOutcome, make_event: Callable[[int], Event], min_seq: int
    ) -> Event | None:
        if self.outcome is not None:
            return None
        event = make_event(max(min_seq, self.last_seq + 1))
        self.stored[event["seq"]] = dict(event)
        self.outcome = outcome
        return event
