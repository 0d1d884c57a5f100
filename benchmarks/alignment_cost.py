"""What aligning the four topics costs per event, measured in-process on the run's backlog.

The aligned input (`processor.stream.alignment`) reads each record's `occurred_at`, buffers
it and hands it over in event-time order. This step pushes the same backlog through an
`Aligner` in the order a consumer fetches it (one topic-partition's chunk after another,
round-robin, 500 records a chunk) and times it, so its cost per event can be set against the
worker's own time per event of the same run.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import orjson

from processor.stream.alignment import Aligner, event_time_of

CHUNK = 500  # records per topic-partition per fetch, about what a 1 MB fetch brings


def fetch_order(events: list[dict[str, Any]], partitions: int) -> list[tuple[str, int, bytes]]:
    """The records as (topic, partition, value), chunk by chunk round-robin over the queues."""
    queues: dict[tuple[str, int], list[bytes]] = {}
    for event in events:
        partition = zlib.crc32(str(event["conversation_id"]).encode()) % partitions
        queues.setdefault((str(event["type"]), partition), []).append(orjson.dumps(event))
    order: list[tuple[str, int, bytes]] = []
    offsets = dict.fromkeys(queues, 0)
    while any(offsets[place] < len(queue) for place, queue in queues.items()):
        for place, queue in queues.items():
            start = offsets[place]
            offsets[place] = min(len(queue), start + CHUNK)
            order.extend((place[0], place[1], value) for value in queue[start : offsets[place]])
    return order


def alignment_seconds(events: list[dict[str, Any]], partitions: int) -> float:
    """Seconds to read the event times, buffer and release the whole backlog in order."""
    records = fetch_order(events, partitions)
    topics = ("mention", "reply", "redirection", "survey")
    unread = {(topic, p): 0 for topic in topics for p in range(partitions)}
    for topic, partition, _ in records:
        unread[(topic, partition)] += 1
    aligner: Aligner[bytes] = Aligner(topics)

    def polled(topic: str, partition: int) -> float:
        return 0.0

    released = 0
    started = time.perf_counter()
    for start in range(0, len(records), CHUNK):
        for topic, partition, value in records[start : start + CHUNK]:
            unread[(topic, partition)] -= 1
            aligner.add(topic, partition, event_time_of(value), value)
        # A backlog read ahead: each topic-partition was answered a fetch since (0.0).
        released += len(aligner.release(0.0, lambda t, p: unread[(t, p)], polled).items)
    elapsed = time.perf_counter() - started
    if released != len(records):
        raise AssertionError(f"the aligner released {released} of {len(records)} records")
    return elapsed
