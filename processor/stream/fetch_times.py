"""When each input topic-partition was last asked and answered, from the consumer's fetches.

The alignment lets a record pass a caught-up, empty topic-partition only once that
topic-partition was answered a fetch *sent* after the record was on the broker (a fetch
read while a producer's records are appended may show some partitions with them and others
without). The send time of the fetch behind a partition's latest answer is what says so;
aiokafka keeps only the time the answer was read (`last_poll_timestamp`), so the alignment
used to infer a send time from two answers seen in a row, a fetch round later than needed.
Here the fetcher's request handling is wrapped: an answer accepted for a partition (the
one that also set its highwater) notes when its request was sent, and every answer when
it was read, exact and with no sampling. The answer's records reach aiokafka's buffer in
the same step of the consumer's loop as the note, so by the time the agent has a record,
its partition's answer time is that of the answer that brought it or a later one: a time
the record was on the broker by. A partition asked after that is asked after the record.
Nothing here depends on aiokafka's sending one fetch at a time per broker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiokafka

Place = tuple[str, int]  # (topic, partition)


class FetchTimes:
    """Per topic-partition, when the request behind its latest accepted fetch answer was
    sent, and when its latest answer was read, on the monotonic clock (written by the
    consumer's thread, read by the agent's: each is one dict assignment)."""

    def __init__(self) -> None:
        self._asked: dict[Place, float] = {}
        self._answered: dict[Place, float] = {}

    def answered(self, place: Place, asked_at: float | None, answered_at: float) -> None:
        """An answer for `place` was read at `answered_at`; accepted, if `asked_at` says
        when its request was sent."""
        if asked_at is not None:
            self._asked[place] = asked_at
        self._answered[place] = answered_at

    def asked_at(self, topic: str, partition: int) -> float | None:
        """When the request behind the latest answer was sent; None if none seen yet."""
        return self._asked.get((topic, partition))

    def answered_at(self, topic: str, partition: int) -> float | None:
        """When the latest answer was read; None if none seen yet."""
        return self._answered.get((topic, partition))


FetchRequestHandler = Callable[[Any, int, Any], Awaitable[bool]]


def track_fetch_times(fetcher: Any, times: FetchTimes) -> None:
    """Wrap an aiokafka fetcher's request handling so that `times` follows its answers.

    An answer proves a partition asked when aiokafka accepted it (it then sets the
    partition's highwater and its poll timestamp; a discarded or failed one sets
    neither): the timestamp's change tells. Two answers within one millisecond look
    unchanged: the second's send time is not noted (the alignment waits one answer
    more), but its answer time is, as is every answer's, since a record's answer time
    must not be taken from an answer before the one that brought it.
    """
    original: FetchRequestHandler | None = getattr(fetcher, "_proc_fetch_request", None)
    if original is None:
        raise RuntimeError(
            f"aiokafka {aiokafka.__version__} has no Fetcher._proc_fetch_request: the fetch "
            "times the alignment needs cannot be followed; install the aiokafka version "
            "pyproject.toml pins"
        )

    async def handle(assignment: Any, node_id: int, request: Any) -> bool:
        places = [
            (topic, partition) for topic, partitions in request.topics
            for partition, *_ in partitions
        ]  # fmt: skip
        states = []
        for place in places:
            state = assignment.state_value(aiokafka.TopicPartition(*place))
            if state is not None:  # None: unassigned meanwhile, its answer is discarded
                states.append((place, state, state.timestamp))
        asked_at = time.monotonic()
        try:
            return await original(assignment, node_id, request)
        finally:
            answered_at = time.monotonic()
            for place, state, before in states:
                accepted = state.timestamp is not None and state.timestamp != before
                times.answered(place, asked_at if accepted else None, answered_at)

    fetcher._proc_fetch_request = handle
