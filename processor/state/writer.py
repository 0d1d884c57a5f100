"""Writing a batch: per partition, its changelog records and dead letters as one unit.

`TransactionalWriter` (Kafka): one transactional producer per owned partition, with the id
`<app>-state-<partition>`. Starting it fences any other producer of that id, a worker that
died mid-transaction or a zombie that lost the partition, and aborts its open transaction,
so readers (`read_committed`) see whole batches only. `FramedWriter` (brokers without
transactions, such as Tansu): one producer, and the reader keeps a batch only if its
commit record arrived (`processor.state.records`). Both frame the records the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced, UnknownError

from processor.errors import SocialcareError
from processor.state.records import BATCH_HEADER, COMMIT_HEADER, Outgoing

log = logging.getLogger(__name__)

# Dead letters keep up to 1 MB of the original value, base64-encoded in JSON.
MAX_REQUEST_BYTES = 4 * 1_048_576


class TransactionsUnsupported(SocialcareError):
    """The broker refused a transactional producer (Tansu has no transactions)."""


@dataclass
class Written:
    """What a batch write did: the last changelog offset per partition, the fenced ones."""

    offsets: dict[int, int] = field(default_factory=dict)
    fenced: set[int] = field(default_factory=set)


class ChangelogWriter(Protocol):
    transactional: bool

    async def start(self, partitions: set[int]) -> None: ...
    async def stop(self, partitions: set[int]) -> None: ...
    async def write(self, batches: Mapping[int, Sequence[Outgoing]]) -> Written: ...
    async def close(self) -> None: ...


class _Framing:
    """Headers of a batch: its id on every changelog record, the commit on the last one."""

    def __init__(self) -> None:
        self._writer = uuid.uuid4().hex[:12]
        self._sequence = itertools.count()

    def frame(self, records: Sequence[Outgoing]) -> list[tuple[Outgoing, list[tuple[str, bytes]]]]:
        batch = f"{self._writer}-{next(self._sequence)}".encode()
        last = max((i for i, record in enumerate(records) if not record.topic), default=-1)
        framed = []
        for index, record in enumerate(records):
            headers = [] if record.topic else [(BATCH_HEADER, batch)]
            if index == last:
                headers.append((COMMIT_HEADER, batch))
            framed.append((record, headers))
        return framed


@dataclass
class _Sent:
    """A record batch handed to the producer: its topic, size and delivery future."""

    changelog: bool
    records: int
    delivered: asyncio.Future[Any]


async def _send(
    producer: AIOKafkaProducer,
    changelog: str,
    partition: int,
    framed: Sequence[tuple[Outgoing, list[tuple[str, bytes]]]],
) -> list[_Sent]:
    """The records as few record batches as the producer's batch size allows.

    Whole batches (`send_batch`) rather than a `send` per record: no future, metadata
    check and accumulator step per record, a third of the changelog's cost. Grouped by
    topic and partition first (each keeps its records' order, all Kafka keeps): a batch's
    customer contacts go to the partitions of their customers, in no order, and a record
    batch per change of partition was one per contact, each with its own future and
    request handling on the writer's thread.
    """
    groups: dict[tuple[str, int], list[tuple[Outgoing, list[tuple[str, bytes]]]]] = {}
    for record, headers in framed:
        target = (
            record.topic or changelog,
            partition if record.partition is None else record.partition,
        )
        groups.setdefault(target, []).append((record, headers))
    sent: list[_Sent] = []
    for (topic, to_partition), records in groups.items():
        builder: Any = producer.create_batch()
        for record, headers in records:
            appended = builder.append(
                key=record.key, value=record.value, timestamp=None, headers=headers
            )
            if appended is not None:
                continue
            # Full: this record starts the next batch.
            sent.append(await _send_batch(producer, changelog, builder, topic, to_partition))
            builder = producer.create_batch()
            builder.append(key=record.key, value=record.value, timestamp=None, headers=headers)
        sent.append(await _send_batch(producer, changelog, builder, topic, to_partition))
    return sent


async def _send_batch(
    producer: AIOKafkaProducer, changelog: str, builder: Any, topic: str, partition: int
) -> _Sent:
    delivered = await producer.send_batch(builder, topic, partition=partition)
    return _Sent(topic == changelog, builder.record_count(), delivered)


def _ignore_deliveries(sent: Sequence[_Sent]) -> None:
    """The batch failed as a whole: its record batches' own failures say nothing more (and
    must not be reported as never retrieved)."""
    for batch in sent:
        batch.delivered.add_done_callback(
            lambda future: None if future.cancelled() else future.exception()
        )


async def _last_changelog_offset(sent: Sequence[_Sent]) -> int:
    """The offset of the last changelog record delivered (-1: none); waits for all."""
    last = -1
    for batch in sent:
        metadata = await batch.delivered
        if batch.changelog:
            last = max(last, metadata.offset + batch.records - 1)
    return last


async def check_transactions(bootstrap_servers: str, app_id: str) -> None:
    """Fail at start, with what to do, when the broker has no transactions."""
    probe = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, transactional_id=f"{app_id}-state-probe"
    )
    try:
        await probe.start()
    except UnknownError as exc:
        raise TransactionsUnsupported(
            "SOCIALCARE_PROCESSING_GUARANTEE=exactly_once needs Kafka transactions, which "
            "this broker refused (Tansu has none): use Apache Kafka, or set "
            "SOCIALCARE_PROCESSING_GUARANTEE=at_least_once (see README, Guarantees)"
        ) from exc
    finally:
        await probe.stop()


class TransactionalWriter:
    """One Kafka transaction per partition and batch; partitions commit concurrently."""

    transactional = True

    def __init__(
        self, bootstrap_servers: str, app_id: str, topic: str, compression: str | None = None
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._compression = compression
        self._app_id = app_id
        self._topic = topic
        self._producers: dict[int, AIOKafkaProducer] = {}
        self._framing = _Framing()

    def _new_producer(self, partition: int) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            transactional_id=f"{self._app_id}-state-{partition}",
            enable_idempotence=True,
            acks="all",
            linger_ms=0,
            max_batch_size=256 * 1024,
            max_request_size=MAX_REQUEST_BYTES,
            transaction_timeout_ms=60_000,
            compression_type=self._compression,
        )

    async def start(self, partitions: set[int]) -> None:
        """(Re)start the partitions' producers: fences the previous writer of each."""
        await self.stop(partitions)
        fresh = {partition: self._new_producer(partition) for partition in partitions}
        results = await asyncio.gather(
            *(producer.start() for producer in fresh.values()), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await asyncio.gather(*(p.stop() for p in fresh.values()), return_exceptions=True)
            raise failed[0]
        self._producers.update(fresh)

    async def stop(self, partitions: set[int]) -> None:
        doomed = [self._producers.pop(p) for p in partitions if p in self._producers]
        await asyncio.gather(*(producer.stop() for producer in doomed), return_exceptions=True)

    async def write(self, batches: Mapping[int, Sequence[Outgoing]]) -> Written:
        written = Written()
        results = await asyncio.gather(
            *(self._write(partition, records) for partition, records in batches.items())
        )
        for partition, offset in zip(batches, results, strict=True):
            if offset is None:
                written.fenced.add(partition)
            elif offset >= 0:
                written.offsets[partition] = offset
        return written

    async def _write(self, partition: int, records: Sequence[Outgoing]) -> int | None:
        """The offset of the last changelog record (-1: none); None if fenced."""
        producer = self._producers.get(partition)
        if producer is None:
            return None  # revoked while the batch ran
        sent: list[_Sent] = []
        try:
            await producer.begin_transaction()
            sent = await _send(producer, self._topic, partition, self._framing.frame(records))
            await producer.commit_transaction()
        except (ProducerFenced, InvalidProducerEpoch):
            log.warning("partition %d: another worker took it over; batch not written", partition)
            self._producers.pop(partition, None)
            _ignore_deliveries(sent)
            await producer.stop()
            return None
        except BaseException:
            _ignore_deliveries(sent)
            try:
                await producer.abort_transaction()
            except Exception:  # the producer may be unusable; the error below says why
                log.debug("abort after a failed batch failed too", exc_info=True)
            raise
        return await _last_changelog_offset(sent)

    async def close(self) -> None:
        await self.stop(set(self._producers))


class FramedWriter:
    """One idempotence-free producer; the commit header makes a batch whole to readers."""

    transactional = False

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        one_record_per_batch: bool,
        compression: str | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._compression = compression
        self._topic = topic
        self._framing = _Framing()
        # Tansu 0.6 reports a wrong end offset for multi-record batches.
        self._max_batch_size = 1 if one_record_per_batch else 256 * 1024
        self._producer: AIOKafkaProducer | None = None

    async def start(self, partitions: set[int]) -> None:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                linger_ms=0,
                max_batch_size=self._max_batch_size,
                max_request_size=MAX_REQUEST_BYTES,
                compression_type=self._compression,
            )
            await producer.start()
            self._producer = producer

    async def stop(self, partitions: set[int]) -> None:
        return None

    async def write(self, batches: Mapping[int, Sequence[Outgoing]]) -> Written:
        await self.start(set())
        producer = self._producer
        assert producer is not None
        sent = {
            partition: await _send(producer, self._topic, partition, self._framing.frame(records))
            for partition, records in batches.items()
        }
        written = Written()
        for partition, batches_sent in sent.items():
            last = await _last_changelog_offset(batches_sent)
            if last >= 0:
                written.offsets[partition] = last
        return written

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def changelog_writer(
    bootstrap_servers: str,
    app_id: str,
    topic: str,
    *,
    transactional: bool,
    one_record_per_batch: bool,
    compression: str,
) -> ChangelogWriter:
    """The writer a worker's processing guarantee asks for; `compression` is Kafka's
    compression.type of its record batches ("none" or a codec)."""
    codec = None if compression == "none" else compression
    if transactional:
        return TransactionalWriter(bootstrap_servers, app_id, topic, codec)
    return FramedWriter(bootstrap_servers, topic, one_record_per_batch, codec)
