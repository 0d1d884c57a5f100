"""The worker's dead-letter sink: envelope, hand to the batch's checkpoint, count, log.

One place for what happens to rejected input, passed to the pipeline as its sink. The
record is written with the batch's state changes (the same transaction on Kafka), to the
dead-letter partition numbered like the input partition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from processor.domain.deadletters import envelope
from processor.domain.events import Rejection
from processor.stream.interfaces import Health, Message

log = logging.getLogger(__name__)

SendRecord = Callable[[int, bytes | None, bytes], Awaitable[None]]


class TopicDeadLetters:
    """Dead letters to a topic through `send(partition, key, value)`."""

    def __init__(
        self, send: SendRecord, health: Health, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._send = send
        self._health = health
        self._wall_clock = wall_clock

    async def put(self, message: Message, rejection: Rejection, event_type: str) -> None:
        document = envelope(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            now=self._wall_clock(),
        )
        await self._send(message.partition, message.key, document)
        self._health.dead_lettered(rejection.reason)
        self._health.processed(event_type, "deadlettered")
        log.warning(
            "dead letter %s from %s[%d]@%d: %s",
            rejection.reason, message.topic, message.partition, message.offset, rejection.detail,
        )  # fmt: skip
