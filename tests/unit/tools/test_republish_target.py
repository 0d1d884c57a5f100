"""Where `socialcare deadletters republish` sends a dead letter back (the envelopes the
worker writes, `processor.domain.deadletters.envelope`)."""

from __future__ import annotations

import orjson

from processor.domain.customers import ContactFacts
from processor.domain.deadletters import envelope
from processor.domain.events import Rejection
from processor.stream.customers import encode_facts
from processor.tools.deadletters import DeadLetter, Target, republish_target

INPUTS = {"socialcare-mentions": "mention", "socialcare-replies": "reply"}
CONTACTS = "socialcare-customer-contacts"


def letter(topic: str, partition: int | None, value: bytes, reason: str = "x") -> DeadLetter:
    document = envelope(
        Rejection(reason, "why"), topic=topic, partition=partition, offset=7, key=b"k",
        value=value, now=0.0,
    )  # fmt: skip
    return DeadLetter(0, 1, orjson.loads(document))


def test_an_input_event_goes_back_to_its_topic_by_its_key() -> None:
    found = republish_target(letter("socialcare-replies", 2, b"{}"), INPUTS, frozenset({CONTACTS}))
    assert found == Target("socialcare-replies", None)


def test_an_event_from_elsewhere_goes_to_the_topic_of_its_type() -> None:
    webhook = letter("webhook", None, orjson.dumps({"type": "mention"}))
    assert republish_target(webhook, INPUTS) == Target("socialcare-mentions")
    unknown = republish_target(letter("webhook", None, b'{"type": "x"}'), INPUTS)
    assert isinstance(unknown, Rejection) and unknown.reason == "unroutable"


def test_a_contact_record_goes_back_to_the_partition_it_was_read_from() -> None:
    facts = encode_facts([ContactFacts("c1", "Acme", "twitter", "u-1", 100.0, None)])
    record = letter(CONTACTS, 3, facts, "schema_violation")
    assert republish_target(record, INPUTS, frozenset({CONTACTS})) == Target(CONTACTS, 3)
    # Without the contacts topic named internal, it is no event of any type.
    refused = republish_target(record, INPUTS)
    assert isinstance(refused, Rejection) and refused.reason == "unroutable"
    nowhere = republish_target(letter(CONTACTS, None, facts), INPUTS, frozenset({CONTACTS}))
    assert isinstance(nowhere, Rejection) and "source partition" in nowhere.detail
