"""Retention arithmetic (processor.domain.customers) on hand-computed customers.

One customer of Acme, times in days from 0:
  c1 twitter  opened 0,   resolved 0 + 100 s
  c2 facebook opened 3                      (3 days after c1's resolution)
  c3 twitter  opened 20,  resolved 20 + 50 s (20 days after c1's resolution)
  c4 twitter  opened 60                     (40 days after c3's resolution)
Contacts: twitter 3, facebook 1; returning: c2, c3, c4 (twitter 2, facebook 1);
resolutions: twitter 2. Resolutions followed by a contact: c1 within 7d (by c2) and so
within 30d; c3 by nothing. Repeat contacts: c2 within 7d and 30d (facebook), c3 within 30d
only (twitter), c4 none.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import pytest

from processor.domain import conversation, customers
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.customers import ContactFacts, CustomerState
from processor.domain.events import Mention, Reply, decode_event
from processor.domain.sla import SlaPolicyCache
from processor.metrics import customer_families as cf

DAY = 86400.0


def facts(
    conversation_id: str,
    channel: str,
    opened: float,
    resolved: float | None = None,
    *,
    first: bool = True,
    resolution_first: bool = True,
) -> ContactFacts:
    return ContactFacts(conversation_id, "Acme", channel, "u1", opened, resolved, first,
                        resolution_first)  # fmt: skip


# Each conversation's facts in the order its partition sends them: opened, then resolved.
STORY: list[list[ContactFacts]] = [
    [facts("c1", "twitter", 0), facts("c1", "twitter", 0, 100, first=False)],
    [facts("c2", "facebook", 3 * DAY)],
    [
        facts("c3", "twitter", 20 * DAY),
        facts("c3", "twitter", 20 * DAY, 20 * DAY + 50, first=False),
    ],
    [facts("c4", "twitter", 60 * DAY)],
]
EXPECTED = {
    ("socialcare_customer_conversations", ("Acme", "twitter")): 3.0,
    ("socialcare_customer_conversations", ("Acme", "facebook")): 1.0,
    ("socialcare_returning_customer_conversations", ("Acme", "twitter")): 2.0,
    ("socialcare_returning_customer_conversations", ("Acme", "facebook")): 1.0,
    ("socialcare_customer_resolutions", ("Acme", "twitter")): 2.0,
    ("socialcare_repeat_contact_resolutions", ("Acme", "twitter", "7d")): 1.0,
    ("socialcare_repeat_contact_resolutions", ("Acme", "twitter", "30d")): 1.0,
    ("socialcare_repeat_contacts", ("Acme", "facebook", "7d")): 1.0,
    ("socialcare_repeat_contacts", ("Acme", "facebook", "30d")): 1.0,
    ("socialcare_repeat_contacts", ("Acme", "twitter", "30d")): 1.0,
}


def fold(
    sequence: list[ContactFacts],
) -> tuple[defaultdict[tuple[str, tuple[str, ...]], float], CustomerState]:
    state = customers.new_customer(sequence[0])
    totals: defaultdict[tuple[str, tuple[str, ...]], float] = defaultdict(float)
    for item in sequence:
        for key, amount in customers.apply_contact(state, item).items():
            assert amount > 0, "increments only: counters never go down"
            totals[(key.family, key.labels)] += amount
    return totals, state


def interleavings(chains: list[list[ContactFacts]], rng: random.Random) -> list[ContactFacts]:
    """A random merge of the chains, each chain's own order kept (as a partition sends)."""
    pending = [list(chain) for chain in chains]
    out = []
    while any(pending):
        chain = rng.choice([chain for chain in pending if chain])
        out.append(chain.pop(0))
    return out


def test_the_story_in_its_own_order() -> None:
    totals, state = fold([item for chain in STORY for item in chain])
    assert dict(totals) == EXPECTED
    assert state.first_opened_at == 0 and state.last_seen_at == 60 * DAY
    assert [entry.conversation_id for entry in state.conversations] == ["c1", "c2", "c3", "c4"]


@pytest.mark.parametrize("seed", range(40))
def test_any_order_and_any_repetition_gives_the_same_counts(seed: int) -> None:
    rng = random.Random(seed)
    sequence = interleavings(STORY, rng)
    # Redelivered facts (an at-least-once write) right after themselves or later.
    for _ in range(rng.randrange(4)):
        position = rng.randrange(len(sequence))
        sequence.insert(rng.randrange(position, len(sequence)) + 1, sequence[position])
    totals, _ = fold(sequence)
    assert dict(totals) == EXPECTED


def test_every_permutation_of_whole_conversations() -> None:
    for order in itertools.permutations(STORY):
        totals, _ = fold([item for chain in order for item in chain])
        assert dict(totals) == EXPECTED, [chain[0].conversation_id for chain in order]


def test_a_contact_on_the_resolution_instant_or_while_open_is_no_repeat() -> None:
    totals, _ = fold([
        facts("a", "twitter", 0, 1000),
        facts("b", "twitter", 500),  # opened while a was open
        facts("c", "twitter", 1000),  # at the resolution instant: not after it
    ])  # fmt: skip
    assert not any(family.startswith("socialcare_repeat") for family, _ in totals)
    assert totals[("socialcare_returning_customer_conversations", ("Acme", "twitter"))] == 2


def test_exactly_seven_days_later_is_within_seven_days() -> None:
    totals, _ = fold([facts("a", "twitter", 0, 100), facts("b", "twitter", 100 + 7 * DAY)])
    assert totals[("socialcare_repeat_contacts", ("Acme", "twitter", "7d"))] == 1
    totals, _ = fold([facts("a", "twitter", 0, 100), facts("b", "twitter", 101 + 7 * DAY)])
    assert totals[("socialcare_repeat_contacts", ("Acme", "twitter", "7d"))] == 0
    assert totals[("socialcare_repeat_contacts", ("Acme", "twitter", "30d"))] == 1


def test_a_long_history_keeps_the_latest_conversations_and_counts_each_once() -> None:
    many = [facts(f"c{n:02d}", "twitter", n * DAY) for n in range(20)]
    totals, state = fold(many)
    assert len(state.conversations) == customers.MAX_REMEMBERED
    assert state.conversations[0].conversation_id == f"c{20 - customers.MAX_REMEMBERED:02d}"
    assert totals[("socialcare_customer_conversations", ("Acme", "twitter"))] == 20
    assert totals[("socialcare_returning_customer_conversations", ("Acme", "twitter"))] == 19
    # c00's resolution comes after c00 left the list: the resolution counts, the contact
    # (told before) does not count again.
    late = customers.apply_contact(state, facts("c00", "twitter", 0, 50, first=False))
    assert {(key.family, key.labels): amount for key, amount in late.items()} == {
        (cf.CUSTOMER_RESOLUTIONS.name, ("Acme", "twitter")): 1.0
    }
    # A conversation older than every remembered one, told for the first time: a returning
    # contact (c00 opened before it is not remembered... but first_opened_at is).
    older = customers.apply_contact(state, facts("old", "facebook", 0.5 * DAY))
    assert {(key.family, key.labels) for key in older} == {
        (cf.CUSTOMER_CONVERSATIONS.name, ("Acme", "facebook")),
        (cf.RETURNING_CUSTOMER_CONVERSATIONS.name, ("Acme", "facebook")),
    }


def test_windowed_families_carry_the_opening_time() -> None:
    out = customers.apply_contact(
        customers.new_customer(facts("a", "x", 10.0)), facts("a", "x", 10.0)
    )
    assert [(key.family, key.at) for key in out] == [(cf.CUSTOMER_CONVERSATIONS.name, 10.0)]


def test_expiry_after_the_ttl() -> None:
    _, state = fold([facts("a", "twitter", 0, 100)])
    assert not customers.expired(state, 100 + 90 * DAY, 90 * DAY)
    assert customers.expired(state, 101 + 90 * DAY, 90 * DAY)


def test_state_round_trips_through_json() -> None:
    _, state = fold([item for chain in STORY for item in chain])
    assert CustomerState.from_json(state.to_json()) == state


# -- the conversation's side ------------------------------------------------------------------

T0 = 1_700_000_000.0
RULES = ConversationRules(inactivity_seconds=3600.0)


def event(kind: str, at: float, **fields: object) -> Mention | Reply:
    document = {"event_id": f"{kind}-{at}", "type": kind, "conversation_id": "c",
                "brand": "Acme", "channel": "twitter", **fields,
                "occurred_at": datetime.fromtimestamp(T0 + at, UTC).isoformat()}  # fmt: skip
    decoded = decode_event(orjson.dumps(document), kind, 1 << 20)
    assert isinstance(decoded, Mention | Reply), decoded
    return decoded


def mention(at: float, author: str = "u1") -> Mention | Reply:
    return event("mention", at, author_id=author)


def reply(at: float, resolves: bool = False) -> Mention | Reply:
    return event("reply", at, agent_id="a", resolves=resolves)


def test_a_conversation_tells_its_opening_and_its_first_resolution_once() -> None:
    state = ConversationState(conversation_id="c", partition=0)
    policies = SlaPolicyCache()
    conversation.apply_event(state, mention(0), policies, RULES)
    assert customers.facts_to_tell(state) == ContactFacts(
        "c", "Acme", "twitter", "u1", T0, None, first_told=True, resolution_first_told=False
    )
    assert customers.facts_to_tell(state) is None
    conversation.apply_event(state, mention(10, author="someone-else"), policies, RULES)
    assert customers.facts_to_tell(state) is None  # the customer is the opening post's author
    conversation.apply_event(state, reply(60, resolves=True), policies, RULES)
    assert customers.facts_to_tell(state) == ContactFacts(
        "c", "Acme", "twitter", "u1", T0, T0 + 60, first_told=False, resolution_first_told=True
    )
    assert customers.facts_to_tell(state) is None


def test_an_inactivity_resolution_is_told_once_the_clock_passes_it() -> None:
    state = ConversationState(conversation_id="c", partition=0)
    policies = SlaPolicyCache()
    conversation.apply_event(state, mention(0), policies, RULES)
    customers.facts_to_tell(state)
    conversation.apply_event(state, reply(60), policies, RULES)
    assert customers.facts_to_tell(state) is None  # awaiting the customer
    conversation.sweep(state, T0 + 60 + 3599)
    assert customers.facts_to_tell(state) is None
    conversation.sweep(state, T0 + 60 + 3600)
    told = customers.facts_to_tell(state)
    assert told is not None and told.resolved_at == T0 + 60 and told.resolution_first_told
