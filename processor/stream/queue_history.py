"""What the breach forecast learns from a partition's conversations: openings by hour and
priority, first responses by minute and by hour, how long each priority waited for its first
response (by opening day), the first-response target of each priority.

Derived from the conversations the state holds, as the backlog indexes are: each stored
document carries its `QueueFacts` with its index entries, a change of a conversation
replaces its old facts by its new ones, a restart rebuilds the counts from the documents.
So the history survives restarts and moves with its partitions without a record of its
own in the changelog, and a replay gives the counts live processing gives. It covers what
the state still holds: conversations are forgotten after `SOCIALCARE_CONVERSATION_TTL_SECONDS`
without an event (30 days by default, well past the week the forecast looks back).
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

from processor.metrics.windows import bucket_start
from processor.predict.breach_queue import WAIT_BOUNDS, wait_bucket

Key = TypeVar("Key", tuple[str, str], tuple[str, str, str])

ARRIVAL_BUCKET_SECONDS = 3600.0
ANSWER_BUCKET_SECONDS = 60.0
# First responses by minute are kept this far behind the latest one (the reply rate now);
# by hour for as long as the conversations are held (the usual rate at a time of day).
RECENT_ANSWERS_SECONDS = 7200.0
DAY = 86400.0


class QueueFacts(NamedTuple):
    """What one conversation tells the forecast (brand and channel known, opened)."""

    brand: str
    channel: str
    priority: str
    opened_at: float
    first_response_at: float | None
    first_response_target: float | None


class QueueHistory:
    """The openings and first responses of one partition's conversations, counted."""

    def __init__(self) -> None:
        # (brand, channel, priority) -> hour start -> conversations opened in it
        self.arrivals: dict[tuple[str, str, str], dict[float, int]] = {}
        # (brand, channel) -> minute start -> first responses in it (the recent minutes),
        # and hour start -> first responses in it
        self.answers: dict[tuple[str, str], dict[float, int]] = {}
        self.hourly_answers: dict[tuple[str, str], dict[float, int]] = {}
        # (brand, channel, priority) -> opening day -> conversations per wait bucket
        self.waits: dict[tuple[str, str, str], dict[float, list[int]]] = {}
        # (brand, channel, priority) -> (opened_at, target) of its latest opening with one
        self.targets: dict[tuple[str, str, str], tuple[float, float]] = {}

    def change(self, before: QueueFacts | None, after: QueueFacts | None) -> None:
        """A conversation's facts went from `before` to `after` (None: none)."""
        if before == after:
            return
        if before is not None and after is not None and before[:4] == after[:4]:
            # Answered, or its target changed (the usual changes): its opening counts as
            # it did, its wait moves to another bucket of the same day.
            answered_before, answered_after = before.first_response_at, after.first_response_at
            if answered_before != answered_after:
                opened_at = before.opened_at
                self._move_wait(
                    (before.brand, before.channel, before.priority),
                    opened_at - opened_at % DAY,
                    wait_bucket(None if answered_before is None else answered_before - opened_at),
                    wait_bucket(None if answered_after is None else answered_after - opened_at),
                )
                if answered_before is not None:
                    self._first_response(before.brand, before.channel, answered_before, -1)
                if answered_after is not None:
                    self._first_response(after.brand, after.channel, answered_after, 1)
            self._target(after)
            return
        if before is not None:
            self._count(before, -1)
        if after is not None:
            self._count(after, 1)
            self._target(after)

    def _count(self, facts: QueueFacts, step: int) -> None:
        """Its opening, its wait (answered or not) and its first response."""
        queue = (facts.brand, facts.channel, facts.priority)
        opened_at = facts.opened_at
        _add(self.arrivals, queue, bucket_start(opened_at, ARRIVAL_BUCKET_SECONDS), step)
        answered_at = facts.first_response_at
        wait = None if answered_at is None else answered_at - opened_at
        self._count_wait(queue, bucket_start(opened_at, DAY), wait_bucket(wait), step)
        if answered_at is not None:
            self._first_response(facts.brand, facts.channel, answered_at, step)

    def _first_response(self, brand: str, channel: str, answered_at: float, step: int) -> None:
        pair = (brand, channel)
        _add(self.hourly_answers, pair, bucket_start(answered_at, ARRIVAL_BUCKET_SECONDS), step)
        minute = bucket_start(answered_at, ANSWER_BUCKET_SECONDS)
        _add(self.answers, pair, minute, step)
        recent = self.answers.get(pair)
        if recent is not None and len(recent) > 2 * RECENT_ANSWERS_SECONDS / 60:
            for old in [at for at in recent if at < minute - RECENT_ANSWERS_SECONDS]:
                del recent[old]

    def _move_wait(self, queue: tuple[str, str, str], day: float, old: int, new: int) -> None:
        """One conversation of the day's counts (counted: they exist) changed wait bucket."""
        if old != new:
            counts = self.waits[queue][day]
            counts[old] -= 1
            counts[new] += 1

    def _target(self, facts: QueueFacts) -> None:
        """The first-response target of its priority's latest opening."""
        target = facts.first_response_target
        if target is None:
            return
        queue = (facts.brand, facts.channel, facts.priority)
        latest = self.targets.get(queue)
        if latest is None or facts.opened_at >= latest[0]:
            self.targets[queue] = (facts.opened_at, target)

    def _count_wait(self, queue: tuple[str, str, str], day: float, bucket: int, step: int) -> None:
        days = self.waits.get(queue)
        if days is None:
            days = self.waits[queue] = {}
        counts = days.get(day)
        if counts is None:
            counts = days[day] = [0] * (len(WAIT_BOUNDS) + 1)
        counts[bucket] += step
        if step < 0 and not any(counts):
            del days[day]
            if not days:
                del self.waits[queue]

    def wait_counts(self, queue: tuple[str, str, str], since: float, until: float) -> list[int]:
        """Conversations of the queue opened on the days starting in [since, until), per
        wait bucket (`breach_queue.wait_bucket`)."""
        counts = [0] * (len(WAIT_BOUNDS) + 1)
        for day, of_day in self.waits.get(queue, {}).items():
            if since <= day < until:
                counts = [total + count for total, count in zip(counts, of_day, strict=True)]
        return counts

    def answered(self, brand: str, channel: str, since: float, until: float) -> int:
        """First responses of the queue in the minutes starting in [since, until) (both on
        minute boundaries)."""
        counts = self.answers.get((brand, channel))
        if not counts:
            return 0
        minutes = round((until - since) / ANSWER_BUCKET_SECONDS)
        return sum(counts.get(since + n * ANSWER_BUCKET_SECONDS, 0) for n in range(minutes))


def _add(table: dict[Key, dict[float, int]], key: Key, at: float, step: int) -> None:
    """Count `step` more at `at` (plain dicts, not `Counter`s: this runs at most events)."""
    counts = table.get(key)
    if counts is None:
        counts = table[key] = {}
    now = counts.get(at, 0) + step
    if now > 0:
        counts[at] = now
        return
    counts.pop(at, None)
    if not counts:
        del table[key]
