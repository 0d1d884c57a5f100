"""Bounded label values: brands, channels and teams, as many as configured, the rest `other`.

Senders choose these values, and every new one is a new set of series in every worker, in
Prometheus and on the boards (about 55 series per brand): 2,000 made-up brands took a
worker from 194 to 110,194 series. So each of the three labels is bounded, one of two ways:

- an allowlist (`SOCIALCARE_BRANDS`, `SOCIALCARE_CHANNELS`, `SOCIALCARE_TEAMS`): only its
  values, plus the brands and channels the SLA policy names;
- otherwise a bound (`SOCIALCARE_MAX_BRANDS`, `_CHANNELS`, `_TEAMS`): the first values the
  deployment meets, registered in Redis (one set per label, shared by every worker and
  kept across restarts, so all workers label alike), plus the ones the policy names.

A value outside is exported as `other`: its events still count, under `other`, and
`socialcare_label_overflow_total{label}` counts them (an alert fires on it). While Redis
is unreachable, counting does not wait for it: a value this worker has not met before
keeps its label as long as this worker's values stay under the bound (provisionally: it
is asked again with the next batch), and is `other` beyond.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from processor.domain.events import AnyEvent, Rejection, Reply
from processor.domain.sla import SlaPolicyCache
from processor.settings import Settings
from processor.stream.reachability import Reachability

log = logging.getLogger(__name__)

OTHER = "other"
Item = AnyEvent | Rejection | None  # a decoded record: an event, why not, or a clock tick
LABELS = ("brand", "channel", "team")
# Values refused are remembered up to this many per label (then forgotten and asked again):
# a sender inventing values must not grow the worker's memory either.
_REFUSED_KEPT = 100_000

# For each value: a member already, or added while the set holds fewer than the bound.
_ADMIT = """
local limit = tonumber(ARGV[1])
local admitted = {}
for i = 2, #ARGV do
  local value = ARGV[i]
  if redis.call('SISMEMBER', KEYS[1], value) == 1 then
    admitted[i - 1] = 1
  elseif redis.call('SCARD', KEYS[1]) < limit then
    redis.call('SADD', KEYS[1], value)
    admitted[i - 1] = 1
  else
    admitted[i - 1] = 0
  end
end
return admitted
"""


class LabelRegistry(Protocol):
    """Where the first values of a bounded label are registered, for every worker."""

    async def admit(self, label: str, values: list[str], limit: int) -> list[bool] | None:
        """For each value: admitted (a member, or added under the bound); None if the
        registry cannot answer."""
        ...


class RedisLabelRegistry:
    """A Redis set per label (`<app id>:labels:<label>`), filled by one script per batch."""

    def __init__(self, redis: aioredis.Redis, prefix: str, redis_state: Reachability) -> None:
        self._prefix = f"{prefix}:labels:"
        self._state = redis_state
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, label: str, values: list[str], limit: int) -> list[bool] | None:
        try:
            answer = await self._admit(keys=[self._prefix + label], args=[limit, *values])
        except (RedisError, OSError) as exc:
            self._state.failed(exc)
            return None
        self._state.ok()
        return [bool(flag) for flag in answer]


class MemoryLabelRegistry:
    """The same rule in one process (unit tests, benchmarks)."""

    def __init__(self) -> None:
        self.members: dict[str, set[str]] = {}

    async def admit(self, label: str, values: list[str], limit: int) -> list[bool] | None:
        members = self.members.setdefault(label, set())
        admitted = []
        for value in values:
            if value not in members and len(members) < limit:
                members.add(value)
            admitted.append(value in members)
        return admitted


class LabelBounds:
    """Decides each label value once (cached), and rewrites events whose values are out."""

    def __init__(
        self,
        settings: Settings,
        registry: LabelRegistry,
        policies: SlaPolicyCache,
        overflow: Callable[[str, int], None] = lambda label, events: None,
    ) -> None:
        self._registry = registry
        self._policies = policies
        self._overflow = overflow
        self._allowlists: dict[str, frozenset[str] | None] = {
            "brand": _frozen(settings.brands),
            "channel": _frozen(settings.channels),
            "team": _frozen(settings.teams),
        }
        self._limits = {
            "brand": settings.max_brands,
            "channel": settings.max_channels,
            "team": settings.max_teams,
        }
        self._admitted: dict[str, set[str]] = {label: set() for label in LABELS}
        self._refused: dict[str, set[str]] = {label: set() for label in LABELS}
        # Admitted for this batch only, while the registry cannot answer.
        self._provisional: dict[str, set[str]] = {label: set() for label in LABELS}
        self._policy_version: int | None = None
        self._named: dict[str, frozenset[str]] = {}

    async def bound(self, items: list[Item]) -> list[Item]:
        """The items, events with a value out of bounds rewritten with `other` (the others,
        rejections and ticks, as they are)."""
        self._refresh_policy_names()
        for provisional in self._provisional.values():
            provisional.clear()
        events = [item for item in items if isinstance(item, AnyEvent)]
        # The batch's distinct values first: a few, whatever the batch's size.
        met = {
            "brand": {event.brand for event in events},
            "channel": {event.channel for event in events},
            "team": {
                event.team
                for event in events
                if isinstance(event, Reply) and event.team is not None
            },
        }
        for label, values in met.items():
            undecided = values - self._admitted[label] - self._refused[label]
            if undecided:
                await self._decide(label, sorted(undecided))
        outside = {
            label: values - self._admitted[label] - self._provisional[label]
            for label, values in met.items()
        }
        if not any(outside.values()):
            return items  # the common case: every value has a label of its own
        out: list[Item] = []
        overflowed: dict[str, int] = {}
        for item in items:
            if not isinstance(item, AnyEvent):
                out.append(item)
                continue
            changes = {}
            for label, value in _values(item):
                if value in outside[label]:
                    changes[label] = OTHER
                    overflowed[label] = overflowed.get(label, 0) + 1
            out.append(msgspec.structs.replace(item, **changes) if changes else item)
        for label, count in overflowed.items():
            self._overflow(label, count)
        return out

    async def _decide(self, label: str, values: list[str]) -> None:
        admitted, refused = self._admitted[label], self._refused[label]
        allowlist = self._allowlists[label]
        named = self._named.get(label, frozenset())
        ask = []
        for value in values:
            if value in named or value == OTHER:
                admitted.add(value)
            elif allowlist is not None:
                (admitted if value in allowlist else refused).add(value)
            else:
                ask.append(value)
        if ask:
            answer = await self._registry.admit(label, ask, self._limits[label])
            if answer is None:
                # Redis away: labels of their own while this worker's stay under the bound,
                # for this batch; asked again with the next one.
                room = self._limits[label] - len(admitted - self._named.get(label, frozenset()))
                self._provisional[label].update(ask[: max(0, room)])
                return
            newly_refused = [value for value, ok in zip(ask, answer, strict=True) if not ok]
            admitted.update(value for value, ok in zip(ask, answer, strict=True) if ok)
            if newly_refused:
                log.warning(
                    "%d %s value(s) past SOCIALCARE_MAX_%sS=%d exported as %r (e.g. %r)",
                    len(newly_refused), label, label.upper(), self._limits[label], OTHER,
                    newly_refused[0],
                )  # fmt: skip
            if len(refused) + len(newly_refused) > _REFUSED_KEPT:
                refused.clear()
            refused.update(newly_refused)

    def _refresh_policy_names(self) -> None:
        """The brands and channels the SLA policy names are always labels of their own."""
        if self._policy_version == self._policies.version and self._named:
            return
        rules = self._policies.policy.rules
        self._named = {
            "brand": frozenset(rule.brand for rule in rules if rule.brand),
            "channel": frozenset(rule.channel for rule in rules if rule.channel),
        }
        self._policy_version = self._policies.version
        for label, names in self._named.items():
            self._admitted[label].update(names)
            self._refused[label].difference_update(names)


def _values(event: AnyEvent) -> Iterable[tuple[str, str]]:
    yield "brand", event.brand
    yield "channel", event.channel
    if isinstance(event, Reply) and event.team is not None:
        yield "team", event.team


def _frozen(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)
