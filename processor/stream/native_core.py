"""The native partition cores (`SOCIALCARE_CORE=native`, docs/native-core.md).

One `socialcare_native.PartitionCore` per owned partition does what `ConversationStore`,
`Aggregates` and the pipeline's `apply` and `sweep` do in Python, on native states: the
fold, the clock checks, the idle conversations, the totals and window buckets. The tables
stay the pipeline's: a core reads a record it does not hold from them and hands back the
records it changed once a batch (`flush`), in the same stored forms, so the two cores can
take over each other's state. What the scrape reads besides the tables (the open backlog,
the breach forecast's history) stays in the `ConversationStore`, brought up to date from
the cores' index changes; the customer facts go to the pipeline's `ContactRouting`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from processor.domain.admission import reply_before_mention, too_late
from processor.domain.churn import states_leaving
from processor.domain.conversation import ConversationRules
from processor.domain.customers import ContactFacts
from processor.domain.events import Mention, Redirection, Rejection, Reply, Survey
from processor.domain.sla import SlaPolicyCache
from processor.errors import SocialcareError
from processor.metrics.families import WINDOW_FAMILIES
from processor.metrics.series import Contributions, field_of, parse_table_key
from processor.metrics.windows import BUCKET_SIZES, retention_seconds
from processor.predict.csat_features import FEATURE_NAMES
from processor.predict.csat_model import CsatModels
from processor.settings import Settings
from processor.state.records import StoredJson
from processor.stream.backlog import OpenConversation
from processor.stream.conversations import ConversationStore
from processor.stream.csat_models import CsatModelStore
from processor.stream.customers import ContactRouting
from processor.stream.interfaces import Table
from processor.stream.queue_history import QueueFacts
from processor.stream.tables import Tables

log = logging.getLogger(__name__)

ConversationEvent = Mention | Reply | Redirection | Survey
_TARGETS = ("first_response", "next_response", "resolution")


def native_module() -> Any:
    """The built extension, or a configuration error that says how to build it."""
    try:
        import socialcare_native
    except ImportError as exc:
        raise SocialcareError(
            f"SOCIALCARE_CORE=native, but the native core is not built ({exc}): "
            "pip install ./native (a Rust toolchain is needed), or SOCIALCARE_CORE=python"
        ) from exc
    return socialcare_native


class FeatureModels:
    """A partition's CSAT models as the native core calls them: the features as a list
    in `FEATURE_NAMES`' order (`native/src/scoring.rs` computes them)."""

    __slots__ = ("models",)

    def __init__(self, models: CsatModels) -> None:
        self.models = models

    def predict(self, brand: str, features: list[float]) -> float | None:
        return self.models.predict(brand, dict(zip(FEATURE_NAMES, features, strict=True)))

    def learn(self, brand: str, features: list[float], answer: int) -> None:
        self.models.learn(brand, dict(zip(FEATURE_NAMES, features, strict=True)), answer)


def _putter(table: Table) -> Callable[[int, str, Any], None]:
    """`table[key] = value` for a key of a known partition: the store's tables take it
    without reading the partition from the key again (`TrackedTable.put`)."""
    put = getattr(table, "put", None)
    if put is not None:
        return cast(Callable[[int, str, Any], None], put)
    return lambda partition, key, value: table.__setitem__(key, value)


class NativeCores:
    """The pipeline's partitions folded natively; the Python pipeline keeps the I/O."""

    def __init__(
        self,
        settings: Settings,
        tables: Tables,
        rules: ConversationRules,
        policies: SlaPolicyCache,
        conversations: ConversationStore,
        contacts: ContactRouting,
        csat_models: CsatModelStore,
    ) -> None:
        self._native = native_module()
        self.settings = settings
        self.tables = tables
        self.rules = rules
        self.policies = policies
        self.conversations = conversations
        self.contacts = contacts
        self.csat_models = csat_models
        self.cores: dict[int, Any] = {}
        lateness = settings.allowed_lateness_seconds
        self._sizes = [(size, retention_seconds(size, lateness)) for size in BUCKET_SIZES]
        self._windowed = sorted(WINDOW_FAMILIES)
        self._windowed_set = frozenset(WINDOW_FAMILIES)
        # The states a worker keeps, shared out among the partitions it owns.
        self._states_kept = settings.state_cache_conversations
        # The tables the cores write, and how a value goes into each (`flush`).
        self._tables = {
            "conversations": tables.conversations,
            "threads": tables.threads,
            "totals": tables.totals,
            "windows": tables.windows,
        }
        self._put = {name: _putter(table) for name, table in self._tables.items()}

    # -- partitions ---------------------------------------------------------------------------

    def index(self, partitions: set[int]) -> int:
        """New cores for these partitions, from the indexes the store rebuilt from their
        tables (`ConversationStore.index`, called first) and the windows table; how many
        window buckets they expire."""
        buckets: dict[int, list[tuple[float, float, str, str]]] = {p: [] for p in partitions}
        for key in list(self.tables.windows.keys()):
            partition, brand, channel, size, start = parse_table_key(key)
            if partition in buckets:
                buckets[partition].append((size, start, brand, channel))
        sentiment = self.rules.sentiment
        tables = (
            self.tables.conversations,
            self.tables.threads,
            self.tables.totals,
            self.tables.windows,
        )
        for partition in partitions:
            checks, idle = self.conversations.take_clock_indexes(partition)
            self.cores[partition] = self._native.PartitionCore(
                partition,
                tables,
                negative_below=sentiment.negative_below,
                positive_above=sentiment.positive_above,
                inactivity_seconds=self.rules.inactivity_seconds,
                at_risk_margin_seconds=self.rules.at_risk_margin_seconds,
                teams=None if self.rules.teams is None else sorted(self.rules.teams),
                agents=sorted(self.rules.agents),
                windowed=self._windowed,
                sizes=self._sizes,
                ttl_seconds=self.settings.conversation_ttl_seconds,
                states_kept=1,  # set below, with every core's share
                checks=checks,
                idle=idle,
                buckets=buckets[partition],
                holdout_share=self.settings.csat_holdout_share,
            )
        self._share_states()
        return sum(len(found) for found in buckets.values())

    def forget(self, partitions: set[int]) -> None:
        self.flush()
        for partition in partitions:
            self.cores.pop(partition, None)
        self._share_states()

    def _share_states(self) -> None:
        """The states a worker keeps (`SOCIALCARE_STATE_CACHE_CONVERSATIONS`), shared out
        among the partitions it owns now."""
        share = max(1, self._states_kept // max(1, len(self.cores)))
        for core in self.cores.values():
            core.set_states_kept(share)

    # -- events -------------------------------------------------------------------------------

    def apply(
        self,
        partition: int,
        event: ConversationEvent,
        watermark: float | None,
        window_now: float,
    ) -> Rejection | None:
        """Fold a first-seen conversation event (`Pipeline.apply`'s work, natively)."""
        targets = (0.0, 0.0, 0.0)
        calendar = None
        leaving = False
        answers_opening = False
        if isinstance(event, Mention):
            brand, channel, priority = event.brand, event.channel, event.effective_priority
            policies = self.policies
            targets = (
                policies.target_seconds("first_response", brand, channel, priority),
                policies.target_seconds("next_response", brand, channel, priority),
                policies.target_seconds("resolution", brand, channel, priority),
            )
            calendar = policies.calendar_for(brand, channel, priority)
            leaving = states_leaving(event.inquiry_type, event.text, self.rules.churn_phrases)
        elif isinstance(event, Reply):
            answers_opening = event.in_reply_to == event.conversation_id
        refused = self.cores[partition].apply(
            event, targets, leaving, calendar, answers_opening, watermark, window_now,
            self._models(partition),
        )  # fmt: skip
        if refused is None:
            return None
        reason, at = refused
        if reason == "reply_before_mention":
            return reply_before_mention(event, event.conversation_id, at)
        return too_late(event, event.conversation_id, at)

    def discard(self, partition: int, conversation_id: str) -> None:
        core = self.cores.get(partition)
        if core is not None:
            core.discard(conversation_id)

    def add(self, partition: int, delta: Contributions, window_now: float) -> None:
        """Contributions made in Python (customers, contact counts) into the aggregates."""
        windowed = self._windowed_set
        items = [
            (key.labels[0], key.labels[1], field_of(key),
             key.at if key.family in windowed else None, amount)
            for key, amount in delta.items()
        ]  # fmt: skip
        if items:
            self.cores[partition].add(items, window_now)

    def sweep(self, partition: int, now: float, idle_before: float, window_now: float) -> None:
        self.cores[partition].sweep(now, idle_before, window_now, self._models(partition))

    def _models(self, partition: int) -> FeatureModels | None:
        """The partition's CSAT models as the core calls them (None: predictions off)."""
        if not self.settings.predictions:
            return None
        return FeatureModels(self.csat_models.of(partition))

    # -- the batch's end ----------------------------------------------------------------------

    def flush(self, tell: Callable[[int, ContactFacts], None] | None = None) -> None:
        """Write what the cores changed to the tables and the scrape's indexes; tell the
        customers' partitions their facts."""
        tables, put = self._tables, self._put
        tell = tell or self.contacts.tell
        for partition, core in self.cores.items():
            for name, key, value, changelog_key in core.take_changes():
                if value is None:
                    tables[name].pop(key, None)
                elif changelog_key is not None:  # a document, its record's key with it
                    put[name](partition, key, StoredJson(value, changelog_key))
                else:
                    put[name](partition, key, value)
            for name, key, fields in core.take_record_changes():
                table = tables[name]
                if fields is None:
                    table.pop(key, None)
                    continue
                # Changed in place, as `Aggregates` does: the record is written back whole.
                record = table.get(key)
                if record is None:
                    record = {}
                for field, amount in fields:
                    if amount is None:
                        record.pop(field, None)
                    else:
                        record[field] = amount
                table[key] = record
            for facts in core.take_facts():
                tell(partition, ContactFacts(*facts))
            index_change = self.conversations.index_change
            for conversation_id, entry, before, after in core.take_index_changes(
                OpenConversation, QueueFacts
            ):
                index_change(partition, conversation_id, entry, before, after)
