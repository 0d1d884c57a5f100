"""Bounded label values (`processor.stream.labels`): allowlists, bounds, the policy's names."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson

from processor.domain.events import AnyEvent, Rejection, Reply, decode_event
from processor.domain.sla import SlaPolicyCache, SlaPolicySet, SlaRule
from processor.settings import Settings
from processor.stream.labels import OTHER, LabelBounds, MemoryLabelRegistry


def event(brand: str, channel: str = "twitter", team: str | None = None) -> AnyEvent:
    doc = {"event_id": f"e-{brand}-{channel}-{team}", "conversation_id": "c",
           "occurred_at": "2026-11-30T10:00:00Z", "brand": brand, "channel": channel}  # fmt: skip
    if team is None:
        doc.update(type="mention", author_id="u")
    else:
        doc.update(type="reply", team=team)
    decoded = decode_event(orjson.dumps(doc), None, 1 << 20)
    assert not isinstance(decoded, Rejection), decoded
    return decoded


class DownRegistry:
    """A registry that cannot answer (Redis unreachable)."""

    async def admit(self, label: str, values: list[str], limit: int) -> list[bool] | None:
        return None


def bounds(
    settings: Settings, registry: object | None = None, policies: SlaPolicyCache | None = None
) -> tuple[LabelBounds, dict[str, int]]:
    overflows: dict[str, int] = {}

    def overflow(label: str, events: int) -> None:
        overflows[label] = overflows.get(label, 0) + events

    return LabelBounds(settings, registry or MemoryLabelRegistry(),  # type: ignore[arg-type]
                       policies or SlaPolicyCache(), overflow), overflows  # fmt: skip


def brands_of(items: list[AnyEvent | Rejection | None]) -> list[str]:
    return [item.brand for item in items if isinstance(item, AnyEvent)]


def test_the_first_values_up_to_the_bound_keep_their_label() -> None:
    labels, overflows = bounds(Settings(max_brands=3))
    first = asyncio.run(labels.bound([event(f"B{n}") for n in range(5)]))
    assert brands_of(first) == ["B0", "B1", "B2", OTHER, OTHER]
    # Decided for good: admitted stay admitted, the others stay out, in later batches too.
    later = asyncio.run(labels.bound([event("B4"), event("B1"), None, event("B9")]))
    assert later[2] is None
    assert brands_of(later) == [OTHER, "B1", OTHER]
    assert overflows == {"brand": 4}


def test_an_event_within_bounds_is_the_same_object() -> None:
    labels, _ = bounds(Settings())
    mention = event("Acme")
    rejection = Rejection("invalid_json", "x")
    assert asyncio.run(labels.bound([mention, rejection])) == [mention, rejection]
    assert asyncio.run(labels.bound([mention]))[0] is mention


def test_workers_sharing_a_registry_label_alike() -> None:
    registry = MemoryLabelRegistry()
    one, _ = bounds(Settings(max_brands=2), registry)
    two, _ = bounds(Settings(max_brands=2), registry)
    assert brands_of(asyncio.run(one.bound([event("A"), event("B")]))) == ["A", "B"]
    assert brands_of(asyncio.run(two.bound([event("C"), event("B"), event("A")]))) == [
        OTHER, "B", "A"]  # fmt: skip


def test_allowlists_and_the_policy_named_values() -> None:
    policy = SlaPolicySet(rules=[
        SlaRule(brand="Named", first_response=timedelta(minutes=5)),
        SlaRule(channel="whatsapp", resolution=timedelta(hours=2)),
    ])  # fmt: skip
    settings = Settings(brands=["Listed"], channels=["twitter"], teams=["Tier 1"])
    labels, overflows = bounds(settings, policies=SlaPolicyCache(policy, version=3))
    items = asyncio.run(labels.bound([
        event("Listed"), event("Named", "whatsapp"), event("Stranger", "sms"),
        event("Listed", team="Tier 1"), event("Listed", team="Tier 9"),
    ]))  # fmt: skip
    assert [(e.brand, e.channel) for e in items if isinstance(e, AnyEvent)] == [
        ("Listed", "twitter"), ("Named", "whatsapp"), (OTHER, OTHER), ("Listed", "twitter"),
        ("Listed", "twitter")]  # fmt: skip
    teams = [e.team for e in items if isinstance(e, Reply)]
    assert teams == ["Tier 1", OTHER]
    assert overflows == {"brand": 1, "channel": 1, "team": 1}


def test_a_bound_counts_only_values_the_policy_does_not_name() -> None:
    policy = SlaPolicySet(rules=[SlaRule(brand="Named", first_response=timedelta(minutes=5))])
    labels, _ = bounds(Settings(max_brands=1), policies=SlaPolicyCache(policy, version=1))
    assert brands_of(asyncio.run(labels.bound([event("A"), event("Named"), event("B")]))) == [
        "A", "Named", OTHER]  # fmt: skip


def test_while_the_registry_is_away_new_values_keep_labels_up_to_the_bound() -> None:
    """Counting does not wait for Redis: new values keep their labels provisionally while
    this worker's stay under the bound, and are asked again once Redis answers."""
    labels, overflows = bounds(Settings(max_brands=2, max_channels=5), DownRegistry())
    away = asyncio.run(labels.bound([event("A"), event("B"), event("C")]))
    assert brands_of(away) == ["A", "B", OTHER]
    assert overflows == {"brand": 1}
    registry = MemoryLabelRegistry()
    registry.members["brand"] = {"C", "D"}  # the other workers met C and D first
    labels._registry = registry  # Redis is back
    back = asyncio.run(labels.bound([event("A"), event("C"), event("D")]))
    assert brands_of(back) == [OTHER, "C", "D"]
    assert overflows == {"brand": 2}
