"""The open backlog's running counts equal counting the open conversations one by one."""

from __future__ import annotations

import random
from collections import Counter

from processor.metrics.families import AGE_BOUNDS, AGE_LABELS
from processor.stream.backlog import OpenBacklog, OpenConversation

NOW = 1_000_000.0


def age_label(age: float) -> str:
    """The reference: the bucket whose floor is the largest bound not above the age."""
    label = AGE_LABELS[0]
    for bound, name in zip(AGE_BOUNDS, AGE_LABELS[1:], strict=True):
        if age >= bound:
            label = name
    return label


def test_running_counts_follow_opens_changes_and_closes() -> None:
    rng = random.Random(11)
    backlog = OpenBacklog()
    truth: dict[str, OpenConversation] = {}
    for step in range(20_000):
        conversation_id = f"c{rng.randrange(3000)}"
        if rng.random() < 0.25:
            backlog.put(conversation_id, None)  # closed (or never open)
            truth.pop(conversation_id, None)
            continue
        # ages around every bound, and a few opened in the future of the scrape's "now"
        age = rng.choice((0.0, *AGE_BOUNDS)) + rng.choice((-1.0, 0.0, 1.0, 900.0))
        entry = OpenConversation(
            rng.choice(("A", "B")), rng.choice(("twitter", "facebook")), NOW - age,
            rng.choice(("normal", "urgent")), rng.choice(("waiting", "at_risk", "breached")),
        )  # fmt: skip
        backlog.put(conversation_id, entry)
        truth[conversation_id] = entry
        if step % 5000 == 0 or step == 19_999:
            by_age = Counter(
                (e.brand, e.channel, age_label(max(0.0, NOW - e.opened_at))) for e in truth.values()
            )
            by_priority = Counter(
                (e.brand, e.channel, e.priority, e.backlog) for e in truth.values()
            )
            assert backlog.by_age(NOW) == by_age
            assert backlog.by_priority() == by_priority
            assert backlog.entries == truth and len(backlog) == len(truth)
    assert 500 < len(truth) < 3000  # closes and opens both happened


def test_an_unchanged_entry_is_counted_once() -> None:
    backlog = OpenBacklog()
    entry = OpenConversation("A", "twitter", NOW - 10, "normal", "waiting")
    backlog.put("c1", entry)
    backlog.put("c1", entry)
    backlog.put("c1", entry._replace(backlog="at_risk"))
    assert backlog.by_priority() == {("A", "twitter", "normal", "at_risk"): 1}
    assert backlog.by_age(NOW) == {("A", "twitter", "lt_1h"): 1}
    backlog.put("c1", None)
    backlog.put("c2", None)
    assert backlog.by_priority() == {} and backlog.by_age(NOW) == {} and len(backlog) == 0
