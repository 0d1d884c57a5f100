"""Every series the domain emits is a declared family, with the family's labels, in order.

A day of synthetic traffic (every event type, bots, redirections, surveys, follow-ups) is
folded conversation by conversation with the clock run past every deadline; each key of
every contribution and event increment must name a declared business family, carry one
value per declared label, and have an event time only if the family feeds a window.
"""

from __future__ import annotations

from collections import Counter

from processor.domain import conversation, customers
from processor.domain.churn import DEFAULT_CHURN_PHRASES, ChurnPhrases
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.events import Mention, Redirection, Reply, Survey, decode_event
from processor.domain.sla import SlaPolicyCache
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.metrics import families as f
from processor.metrics.prediction_families import FORECAST_FIRST_RESPONSE_BREACHES
from processor.metrics.series import SeriesKey
from processor.predict import csat_scoring
from processor.predict.csat_model import CsatModels

START = 1_700_000_000.0
TYPES = {"mention": "mention", "reply": "reply", "redirection": "redirection",
         "survey": "survey"}  # fmt: skip


def check(key: SeriesKey, seen: Counter[str]) -> None:
    family = next((item for item in f.BUSINESS_FAMILIES if item.name == key.family), None)
    assert family is not None, f"{key.family} is not a declared business family"
    assert len(key.labels) == len(family.labels), (key, family.labels)
    assert all(isinstance(value, str) and value for value in key.labels), key
    if key.at is not None:
        assert key.family in f.WINDOW_FAMILIES, f"{key.family} has an event time but no window"
    if family.kind == "histogram":
        assert key.part in ("bucket", "sum", "count"), key
    else:
        assert key.part == "", key
    seen[key.family] += 1


def test_every_emitted_series_is_declared() -> None:
    import orjson

    documents = SyntheticTraffic(START, seed=3, profile=TrafficProfile(conversations_per_minute=4))
    events = documents.advance(START + 86400)
    rules = ConversationRules(
        agents=frozenset({"agent-AcmeSupport-1"}),
        churn_phrases=ChurnPhrases(DEFAULT_CHURN_PHRASES),
    )
    policies = SlaPolicyCache()
    states: dict[str, ConversationState] = {}
    customer_states: dict[str, customers.CustomerState] = {}
    seen: Counter[str] = Counter()
    models = CsatModels()  # one partition's, learning as the day goes

    def tell_customer(state: ConversationState) -> None:
        facts = customers.facts_to_tell(state)
        if facts is not None:
            customer = customer_states.setdefault(
                customers.customer_key(facts.brand, facts.customer_id),
                customers.new_customer(facts),
            )
            for key in customers.apply_contact(customer, facts):
                check(key, seen)

    for document in events:
        event = decode_event(orjson.dumps(document), TYPES[str(document["type"])], 1 << 20)
        assert isinstance(event, Mention | Reply | Redirection | Survey), event
        for key in conversation.event_increments(event, rules):
            check(key, seen)
        state = states.setdefault(
            event.conversation_id,
            ConversationState(conversation_id=event.conversation_id, partition=0),
        )
        conversation.apply_event(state, event, policies, rules)
        answer = int(event.score) if isinstance(event, Survey) and event.kind == "csat" else None
        resolving = isinstance(event, Reply) and event.resolves
        for key in csat_scoring.on_event(
            state, models, event.occurred_ts, resolving, answer, holdout_share=0.2
        ):
            check(key, seen)
        tell_customer(state)
        for key in conversation.contributions(state):
            check(key, seen)
    for state in states.values():
        conversation.advance_clock(state, START + 10 * 86400)
        for key in csat_scoring.on_clock(state, models):
            check(key, seen)
        tell_customer(state)
        for key in (*conversation.contributions(state), *conversation.retirement(state)):
            check(key, seen)
    # Not vacuous: nearly the whole catalogue shows up. Contacts come from another topic,
    # the backlog by age and priority and the breach forecast are built at scrape time, and
    # the generator's customers never write again after a resolution (no reopens).
    missing = {family.name for family in f.BUSINESS_FAMILIES} - set(seen)
    assert missing <= {
        f.OTHER_CHANNEL_CONTACTS.name, f.OPEN_CONVERSATIONS_BY_AGE.name,
        f.OPEN_CONVERSATIONS_BY_PRIORITY.name, f.REOPENS.name,
        FORECAST_FIRST_RESPONSE_BREACHES.name,
    }, missing  # fmt: skip
