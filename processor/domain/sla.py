"""SLA policies: targets per brand / channel / priority, and the worker's lookup cache.

The policy file (YAML, see `config/sla.yaml`) is the deployed configuration; the effective
set lives in Redis (`processor.stream.policy_store`) so that `socialcare sla set` changes
every running worker without a restart. Here: the models, their validation and matching.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from processor.domain.business_hours import BusinessCalendar
from processor.domain.events import Priority

Target = Literal["first_response", "next_response", "resolution"]
TARGETS: tuple[Target, ...] = ("first_response", "next_response", "resolution")

# Specificity weights: a brand match beats a channel match beats a priority match, any two
# together beat one alone, and no two rules of different shape tie (4, 3, 2; 5, 6, 7; 9).
_WEIGHTS = {"brand": 4, "channel": 3, "priority": 2}


class SlaTargets(BaseModel):
    """Targets of the catch-all default policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: timedelta
    resolution: timedelta
    next_response: timedelta = timedelta(hours=1)
    calendar: str | None = None  # a name in `calendars`; None: the clock runs 24/7

    @field_validator("first_response", "next_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("an SLA target must be positive")
        return value


class SlaRule(BaseModel):
    """A rule matching some of brand, channel and priority; unset targets fall through."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand: str | None = None
    channel: str | None = None
    priority: Priority | None = None
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    calendar: str | None = None

    @field_validator("first_response", "next_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("an SLA target must be positive")
        return value

    @property
    def specificity(self) -> int:
        return sum(weight for name, weight in _WEIGHTS.items() if getattr(self, name) is not None)

    def matches(self, brand: str, channel: str, priority: str) -> bool:
        return (
            (self.brand is None or self.brand == brand)
            and (self.channel is None or self.channel == channel)
            and (self.priority is None or self.priority == priority)
        )

    def same_match(self, other: SlaRule) -> bool:
        return (self.brand, self.channel, self.priority) == (
            other.brand,
            other.channel,
            other.priority,
        )


class SlaPolicySet(BaseModel):
    """The whole policy document: a default and a list of rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: SlaTargets = SlaTargets(
        first_response=timedelta(hours=1), resolution=timedelta(hours=24)
    )
    rules: list[SlaRule] = Field(default_factory=list)
    calendars: dict[str, BusinessCalendar] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _calendars_exist(self) -> SlaPolicySet:
        named = [self.default.calendar, *(rule.calendar for rule in self.rules)]
        for name in named:
            if name is not None and name not in self.calendars:
                raise ValueError(
                    f"calendar {name!r} is not defined under `calendars` "
                    f"(defined: {', '.join(sorted(self.calendars)) or 'none'})"
                )
        return self

    def calendar_for(self, brand: str, channel: str, priority: str) -> BusinessCalendar | None:
        """The calendar of the most specific rule that names one, else the default's."""
        best: tuple[int, str] | None = None
        for rule in self.rules:
            if rule.calendar is None or not rule.matches(brand, channel, priority):
                continue
            if best is None or rule.specificity > best[0]:
                best = (rule.specificity, rule.calendar)
        name = best[1] if best is not None else self.default.calendar
        return self.calendars[name] if name is not None else None

    def target_seconds(self, target: Target, brand: str, channel: str, priority: str) -> float:
        """The target of the most specific rule that sets it, else the default."""
        best: tuple[int, timedelta] | None = None
        for rule in self.rules:
            value = getattr(rule, target)
            if value is None or not rule.matches(brand, channel, priority):
                continue
            if best is None or rule.specificity > best[0]:
                best = (rule.specificity, value)
        chosen: timedelta = best[1] if best is not None else getattr(self.default, target)
        return chosen.total_seconds()

    def with_rule(self, rule: SlaRule) -> SlaPolicySet:
        """A copy where `rule` replaces the rule of the same match (targets merged)."""
        rules = []
        replaced = False
        for existing in self.rules:
            if existing.same_match(rule):
                merged = existing.model_copy(
                    update={
                        name: getattr(rule, name)
                        for name in (*TARGETS, "calendar")
                        if getattr(rule, name) is not None
                    }
                )
                rules.append(merged)
                replaced = True
            else:
                rules.append(existing)
        if not replaced:
            rules.append(rule)
        return self.model_copy(update={"rules": rules})

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


def load_policy_file(path: Path) -> tuple[SlaPolicySet, str]:
    """Parse and validate the YAML policy file; returns the policy set and the file's hash."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"SOCIALCARE_SLA_CONFIG: cannot read {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"SOCIALCARE_SLA_CONFIG: {path} is not valid YAML: {exc}") from None
    try:
        policy = SlaPolicySet.model_validate(document)
    except ValueError as exc:
        raise ValueError(
            f"SOCIALCARE_SLA_CONFIG: {path} is not a valid SLA policy: {exc}"
        ) from None
    return policy, hashlib.sha256(raw).hexdigest()


class SlaPolicyCache:
    """The worker's in-memory copy; lookups memoised because they run per event."""

    def __init__(self, policy: SlaPolicySet | None = None, version: int = 0) -> None:
        self.policy = policy or SlaPolicySet()
        self.version = version
        self._memo: dict[tuple[Target, str, str, str], float] = {}
        self._calendars: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def replace(self, policy: SlaPolicySet, version: int) -> None:
        self.policy = policy
        self.version = version
        self._memo = {}
        self._calendars = {}

    def target_seconds(self, target: Target, brand: str, channel: str, priority: str) -> float:
        key = (target, brand, channel, priority)
        value = self._memo.get(key)
        if value is None:
            value = self.policy.target_seconds(target, brand, channel, priority)
            self._memo[key] = value
        return value

    def calendar_for(self, brand: str, channel: str, priority: str) -> dict[str, Any] | None:
        """The business calendar (as JSON) the clocks of such a conversation follow."""
        key = (brand, channel, priority)
        if key not in self._calendars:
            calendar = self.policy.calendar_for(brand, channel, priority)
            self._calendars[key] = calendar.model_dump(mode="json") if calendar else None
        return self._calendars[key]
