"""The customers' side of the stream: facts routed by customer, and the customers table.

Conversations are partitioned by conversation, so a customer's conversations are on every
partition. Like a Kafka Streams repartition, each conversation's facts
(`processor.domain.customers.ContactFacts`) go to an internal topic keyed by brand and
author (`<app id>-customer-contacts`, as many partitions as the input topics), in the batch's
checkpoint: with exactly-once, in the same transaction as the state change that caused them.
A record carries the facts one batch of one partition tells one customers' partition (up to
`FACTS_PER_RECORD`, in the order told), not one record per fact: the writer, the broker and
the fetch each pay per record, and a backlog tells about half a fact per event.
The topic is read by the same consumer group, unaligned; partition q of it belongs to the
worker that owns input partition q, so the customers of q live in q's state (`customers`
table, keyed `"<q>|<brand>|<author>"`), in q's changelog, with q's input progress. A
customer is forgotten after `SOCIALCARE_CUSTOMER_TTL_SECONDS` without a conversation (event
time of q's clock).
"""

from __future__ import annotations

import functools
import heapq
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import cast

import msgspec
from aiokafka.partitioner import murmur2

from processor.domain import customers
from processor.domain.customers import ContactFacts, CustomerState
from processor.domain.events import Rejection
from processor.metrics.series import Contributions
from processor.state.records import Outgoing
from processor.stream.conversations import partition_items
from processor.stream.interfaces import Table

log = logging.getLogger(__name__)


def _murmur2() -> Callable[[bytes], int]:
    """The native core's murmur2 when it is built (aiokafka's is pure Python: 10 µs a key,
    and most customers of a backlog are new), else aiokafka's; the same hash."""
    try:
        from socialcare_native import murmur2 as native_murmur2
    except ImportError:
        return cast(Callable[[bytes], int], murmur2)
    return cast(Callable[[bytes], int], native_murmur2)


_hash = _murmur2()


@functools.lru_cache(maxsize=65536)
def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), so tools keyed alike agree with the worker.

    Remembered for the recent customers."""
    hashed = _hash(key)
    return (hashed & 0x7FFFFFFF) % partitions


# Far below the broker's default 1 MB message size with the longest labels and ids.
FACTS_PER_RECORD = 256

_encoder = msgspec.json.Encoder()
_batch_decoder = msgspec.json.Decoder(list[ContactFacts])
_single_decoder = msgspec.json.Decoder(ContactFacts)


def encode_facts(facts: Sequence[ContactFacts]) -> bytes:
    """A JSON array of facts, each an array of its fields in order (msgspec reads it back
    typed)."""
    return _encoder.encode(facts)


def decode_facts(raw: bytes | None) -> list[ContactFacts] | Rejection:
    """The facts of an internal record, or why not. A record of one fact alone (written by
    a version before records carried a batch's facts) is read too."""
    try:
        return _batch_decoder.decode(raw or b"")
    except msgspec.DecodeError as exc:
        try:
            return [_single_decoder.decode(raw or b"")]
        except msgspec.DecodeError:
            return Rejection("schema_violation", f"customer contact record: {exc}")


class ContactRouting:
    """Where conversations' facts go: their customer's partition of the contacts topic,
    gathered per (telling partition, customers' partition) until the batch ends."""

    def __init__(self, topic: str, partitions: int) -> None:
        self.topic = topic
        self.partitions = partitions
        self._told: dict[tuple[int, int], list[ContactFacts]] = defaultdict(list)

    def tell(self, partition: int, facts: ContactFacts) -> None:
        """Facts told by a conversation of `partition`, sent with the batch's records."""
        key = customers.customer_key(facts.brand, facts.customer_id).encode()
        self._told[(partition, partition_for(key, self.partitions))].append(facts)

    def take_records(self) -> Iterator[tuple[int, Outgoing]]:
        """The batch's facts as records: (telling partition, record to the customers'
        partition), keyed by the telling partition, each keeping the order told."""
        told, self._told = self._told, defaultdict(list)
        for (partition, target), facts in sorted(told.items()):
            key = str(partition).encode()
            for first in range(0, len(facts), FACTS_PER_RECORD):
                chunk = facts[first : first + FACTS_PER_RECORD]
                yield partition, Outgoing(self.topic, key, encode_facts(chunk), target)


def table_key(partition: int, brand: str, customer_id: str) -> str:
    return f"{partition}|{customers.customer_key(brand, customer_id)}"


class CustomerStore:
    """Customer states in their table, and per partition a heap of (last seen, key) to
    forget the ones idle past the TTL: one entry per customer, looked at again when due."""

    def __init__(self, table: Table, ttl_seconds: float) -> None:
        self.table = table
        self.ttl = ttl_seconds
        self._idle: dict[int, list[tuple[float, str]]] = defaultdict(list)

    def apply(self, partition: int, facts: ContactFacts) -> Contributions:
        key = table_key(partition, facts.brand, facts.customer_id)
        document = self.table.get(key)
        if document is None:
            state = customers.new_customer(facts)
            heapq.heappush(self._idle[partition], (state.last_seen_at, key))
        else:
            state = CustomerState.from_json(document)
        delta = customers.apply_contact(state, facts)
        self.table[key] = state.to_json()
        return delta

    def expire(self, partition: int, now: float) -> int:
        """Forget the partition's customers not seen for the TTL; how many."""
        idle = self._idle[partition]
        cutoff = now - self.ttl
        forgotten = 0
        while idle and idle[0][0] < cutoff:
            _, key = heapq.heappop(idle)
            document = self.table.get(key)
            if document is None:
                continue
            last_seen = document["last"]
            if last_seen >= cutoff:
                heapq.heappush(idle, (last_seen, key))  # seen since: look again later
                continue
            del self.table[key]
            forgotten += 1
        return forgotten

    def index(self, partitions: set[int]) -> int:
        """Rebuild the idle heaps of these partitions from the table."""
        indexed = 0
        for partition in partitions:
            items = partition_items(self.table, partition)
            heap = [(document["last"], key) for key, document in items]
            heapq.heapify(heap)
            self._idle[partition] = heap
            indexed += len(heap)
        return indexed

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._idle.pop(partition, None)
