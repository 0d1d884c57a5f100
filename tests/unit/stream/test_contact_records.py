"""Customer contact records: a batch's facts go out as one record per (telling partition,
customers' partition), and come back in as the same facts, in the order told."""

from __future__ import annotations

import base64

import pytest

from processor.domain.customers import ContactFacts, customer_key
from processor.domain.events import Rejection
from processor.state.records import Outgoing
from processor.stream import customers as customers_module
from processor.stream.customers import (
    ContactRouting,
    CustomerStore,
    decode_facts,
    encode_facts,
    partition_for,
)
from processor.stream.interfaces import Message
from tests.unit.stream.test_pipeline import BRAND, T0, Harness, tkey

CONTACTS = "socialcare-customer-contacts"


def facts(conversation: str, customer: str, opened: float) -> ContactFacts:
    return ContactFacts(conversation, BRAND, "twitter", customer, T0 + opened, None)


def target(customer: str) -> int:
    return partition_for(customer_key(BRAND, customer).encode(), 4)


def test_facts_are_gathered_per_telling_and_customers_partition_in_the_order_told() -> None:
    routing = ContactRouting(CONTACTS, 4)
    customers = [f"u-{n}" for n in range(40)]
    told = [(n % 2, facts(f"c{n}", customer, n)) for n, customer in enumerate(customers)]
    for partition, fact in told:
        routing.tell(partition, fact)
    records = list(routing.take_records())
    expected: dict[tuple[int, int], list[ContactFacts]] = {}
    for partition, fact in told:
        expected.setdefault((partition, target(fact.customer_id)), []).append(fact)
    assert [(p, r.partition) for p, r in records] == sorted(expected)
    for partition, record in records:
        assert record.topic == CONTACTS and record.key == str(partition).encode()
        assert record.partition is not None
        assert decode_facts(record.value) == expected[(partition, record.partition)]
    assert list(routing.take_records()) == []  # taken once


def test_a_pair_with_more_facts_than_a_record_holds_gets_several_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(customers_module, "FACTS_PER_RECORD", 3)
    routing = ContactRouting(CONTACTS, 4)
    told = [facts(f"c{n}", "u-1", n) for n in range(8)]
    for fact in told:
        routing.tell(2, fact)
    values = [decode_facts(record.value) for _, record in routing.take_records()]
    assert values == [told[0:3], told[3:6], told[6:8]]


def test_a_record_of_one_fact_written_by_an_earlier_version_is_read() -> None:
    fact = facts("c1", "u-1", 0)
    single = customers_module._encoder.encode(fact)  # one fact, not a list
    assert single.startswith(b'["c1"')
    assert decode_facts(single) == [fact]
    assert decode_facts(encode_facts([fact])) == [fact]
    rejected = decode_facts(b'{"conversation_id": 1}')
    assert isinstance(rejected, Rejection) and rejected.reason == "schema_violation"


async def test_a_batch_tells_each_customers_partition_once_and_counts_every_fact() -> None:
    """Six conversations of two partitions, one batch: one record per pair; looped back,
    each customer counts its conversations (u-a has three: two of them returning)."""
    sent: list[tuple[int, Outgoing]] = []
    h = Harness(send_contact=lambda partition, record: sent.append((partition, record)))
    authors = ["u-a", "u-b", "u-a", "u-c", "u-a", "u-b"]
    batch = [
        h.message("mention", f"c{n}", 10 * n, partition=1 + n % 2, author_id=author)
        for n, author in enumerate(authors)
    ]
    await h.pipeline.handle_batch(batch)
    pairs = {(1 + n % 2, target(author)) for n, author in enumerate(authors)}
    assert sorted((p, r.partition) for p, r in sent) == sorted(pairs)
    told = {
        (p, r.partition): [f.conversation_id for f in decode_facts(r.value)]  # type: ignore[union-attr]
        for p, r in sent
    }
    for (partition, customers_partition), conversations in told.items():
        assert conversations == [
            f"c{n}" for n, author in enumerate(authors)
            if 1 + n % 2 == partition and target(author) == customers_partition
        ]  # fmt: skip
    # Read back on the customers' partitions (their offsets in one contacts log).
    contacts = [
        Message(r.topic, r.partition or 0, offset, r.key, r.value)
        for offset, (_, r) in enumerate(sent)
    ]
    await h.pipeline.handle_batch(contacts)
    opened: dict[int, float] = {}
    returning: dict[int, float] = {}
    for author in authors:
        opened[target(author)] = opened.get(target(author), 0.0) + 1.0
    for author in set(authors):
        returning[target(author)] = returning.get(target(author), 0.0) + (authors.count(author) - 1)
    for customers_partition in opened:
        series = h.customer_totals.get(tkey("twitter", customers_partition), {})
        assert series.get("customer_conversations_total") == opened[customers_partition]
        assert (
            series.get("returning_customer_conversations_total", 0.0)
            == (returning[customers_partition])
        )
    assert h.dead_letters == []


async def test_a_fact_that_fails_is_dead_lettered_alone_and_the_others_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness()
    apply = CustomerStore.apply

    def failing(self: CustomerStore, partition: int, told: ContactFacts) -> object:
        if told.conversation_id == "bad":
            raise RuntimeError("broken customer")
        return apply(self, partition, told)

    monkeypatch.setattr(CustomerStore, "apply", failing)
    record = encode_facts([facts("c1", "u-1", 0), facts("bad", "u-2", 5), facts("c3", "u-3", 9)])
    await h.send_raw(CONTACTS, 2, b"1", record)
    assert h.health.errors == 1 and h.health.dead == ["processing_error"]
    ((_, letter),) = h.dead_letters
    assert letter["source_topic"] == CONTACTS and letter["source_offset"] == h.offset
    # The failed fact alone: a replay of the dead letter counts it and nothing else again.
    assert decode_facts(base64.b64decode(letter["original_value_b64"])) == [facts("bad", "u-2", 5)]
    series = h.customer_totals.get(tkey("twitter", 2), {})
    assert series.get("customer_conversations_total") == 2.0
