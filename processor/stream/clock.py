"""'Now' per partition: stream time, the watermark, and the wall clock.

Stream time is the latest event time a partition has processed (in aligned order, see
`processor.stream.alignment`), persisted in the clocks table so that it survives restarts
and moves with the partition. Live, deadlines and windows end at the wall clock, except
that deadlines wait at the stream time while the partition catches up on a backlog; in
replay (`SOCIALCARE_CLOCK=event`) windows end at the stream time and deadlines at the
watermark (stream time less the allowed lateness), so a replay gives live's numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from processor.domain.admission import time_bounds_rejection
from processor.domain.events import AnyEvent, Rejection
from processor.settings import ClockMode, Settings
from processor.stream.interfaces import Table


class Clock:
    """Stream time per partition (in the clocks table) and the 'now' derived from it."""

    def __init__(
        self,
        settings: Settings,
        clocks: Table,
        wall_clock: Callable[[], float] = time.time,
        catching_up: Callable[[int], bool] = lambda partition: False,
    ) -> None:
        self.settings = settings
        self.clocks = clocks
        self.wall_clock = wall_clock
        # True while the partition has records on the broker or buffered not yet processed.
        self.catching_up = catching_up
        self.lateness = settings.allowed_lateness_seconds
        self._live = settings.clock is ClockMode.WALL
        # The table's values as read or written here: an event reads its partition's stream
        # time four times. Dropped when a partition's table may have been restored behind
        # this clock's back (`forget`, on every revocation and indexing).
        self._known: dict[int, float] = {}
        # Partitions whose stream time moved since the last `flush`: the table is written
        # once a batch, not at every event in order (each write a changed key to track).
        self._moved: set[int] = set()

    def forget(self, partitions: set[int] | None = None) -> None:
        """Read these partitions' stream time from the table again (None: all)."""
        if partitions is None:
            self._known.clear()
            self._moved.clear()
        else:
            for partition in partitions:
                self._known.pop(partition, None)
                self._moved.discard(partition)

    def flush(self) -> None:
        """Write the stream times the batch moved to the clocks table (before its write)."""
        for partition in self._moved:
            self.clocks[str(partition)] = self._known[partition]
        self._moved.clear()

    def stream_time(self, partition: int) -> float | None:
        """Latest event time seen on the partition."""
        known = self._known.get(partition)
        if known is not None:
            return known
        value = self.clocks.get(str(partition))
        if value is None:
            return None
        self._known[partition] = latest = float(value)
        return latest

    def advance(self, partition: int, at: float) -> None:
        """Move the partition's stream time to `at` if it is later."""
        latest = self.stream_time(partition)
        if latest is None or at > latest:
            self._known[partition] = at
            self._moved.add(partition)

    def watermark(self, partition: int) -> float | None:
        """Stream time less the allowed lateness: an earlier event is dead-lettered."""
        latest = self.stream_time(partition)
        return None if latest is None else latest - self.lateness

    def deadline_now(self, partition: int) -> float:
        """'Now' for SLA deadlines: wall clock live, the event-time watermark in replay.

        Live, while the partition catches up on a backlog, its (aligned) stream time: a
        reply still unread must not let a conversation be breached by silence.
        """
        if self._live:
            wall = self.wall_clock()
            if self.catching_up(partition):
                latest = self.stream_time(partition)
                return wall if latest is None else min(latest, wall)
            return wall
        latest = self.stream_time(partition)
        return float("-inf") if latest is None else latest - self.lateness

    def window_now(self, partition: int) -> float:
        """'Now' that sliding windows end at: wall clock live, latest event time in replay."""
        if self._live:
            return self.wall_clock()
        latest = self.stream_time(partition)
        return float("-inf") if latest is None else latest

    def rejection(self, partition: int, event: AnyEvent) -> Rejection | None:
        """Out of the time bounds, or later than the allowed lateness behind stream time."""
        out_of_bounds = time_bounds_rejection(event, self.settings, self.wall_clock())
        if out_of_bounds is not None:
            return out_of_bounds
        at = event.occurred_ts
        latest = self.stream_time(partition)
        if latest is not None and at < latest - self.lateness:
            return Rejection(
                "too_late",
                f"occurred_at {event.occurred_at} is {latest - at:.0f}s behind the partition's "
                f"latest event time; allowed lateness is {self.lateness:g}s",
                event.event_id,
            )
        return None
