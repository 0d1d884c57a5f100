"""First-response figures a worker must export for a set of v1 events, derived independently.

`tests/integration/test_month_replay.py` replays a month of synthetic history through a
worker in replay mode and compares its /metrics with `expected_figures`. That function reads
the events as plain dicts and applies the documented rules (docs/metrics.md, "Exact rules";
docs/design.md, "Time") directly: it calls nothing of the processor, so a misreading of a rule
in `processor/domain/conversation.py` shows up as a disagreement instead of being copied.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The built-in default policy (no SOCIALCARE_SLA_CONFIG, nothing stored in Redis): first
# response within 1 h for every brand, channel and priority, 24/7 (no calendar), no rules.
DEFAULT_FIRST_RESPONSE_TARGET = 3600.0

Series = tuple[str, str]  # (brand, channel)


@dataclass
class SeriesFigures:
    """What one (brand, channel) must show."""

    mentions: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # "human" / "automated"
    conversations: int = 0
    first_responses: list[float] = field(default_factory=list)  # seconds, one per answered
    sla: Counter[tuple[str, str]] = field(default_factory=Counter)  # (priority, outcome)
    stopped: list[str] = field(default_factory=list)  # resolved before a reply and the deadline
    pending: list[str] = field(default_factory=list)  # unanswered, deadline not reached by now

    def outcomes(self, outcome: str) -> int:
        """SLA outcomes of all priorities."""
        return sum(n for (_, got), n in self.sla.items() if got == outcome)


def event_time(event: Mapping[str, Any]) -> float:
    """`occurred_at` (RFC 3339 with an offset or "Z") as POSIX seconds."""
    return datetime.fromisoformat(str(event["occurred_at"])).timestamp()


@dataclass
class _Thread:
    mentions: list[tuple[float, Mapping[str, Any]]] = field(default_factory=list)
    replies: list[tuple[float, Mapping[str, Any]]] = field(default_factory=list)


def expected_figures(
    events: Iterable[Mapping[str, Any]],
    now: float,
    target: float = DEFAULT_FIRST_RESPONSE_TARGET,
) -> dict[Series, SeriesFigures]:
    """Figures per (brand, channel) once every event is counted and the SLA clock is at `now`.

    Rules followed (docs/metrics.md, "Exact rules"):

    1. Event counts use the event's own brand and channel: every `mention` counts in
       mentions; every `reply` in replies, `automated` true as "automated", false or absent
       as "human". Redirections and surveys count in neither.
    2. A conversation (`conversation_id`) is opened by its earliest mention by event time;
       that mention's brand, channel and `priority` (default "normal") label its
       conversation values. A conversation with no mention is never opened and adds nothing.
       Two mentions sharing the earliest time raise ValueError: the worker then keeps the
       one it reads first, which depends on arrival order.
    3. Its first response is its earliest reply with `automated` not true at or after the
       opening (a reply at the same instant counts, 0 s). Bot replies never stop the
       clock; `public` (a private reply after a redirection) and `resolves` do not matter;
       replies before the opening are no response.
    4. Deadline = opening + `target` (calendar time: the default policy has no calendar,
       and no rule gives a brand, channel or priority another target).
    5. Outcome, one per opened conversation: "met" if the first response is at or before
       the deadline (exactly at it is met), "breached" if after. Without a first
       response: if a resolving reply (`resolves` true, bot or human) at or after the
       opening comes at or before the deadline, the clock stopped and there is no outcome
       (`stopped`); otherwise "breached" once `now` >= deadline, else none yet (`pending`).
       (A resolution by inactivity needs a human reply, so it cannot stop an unanswered
       clock.)
    6. First response seconds (`_count`, `_sum`) = first response - opening, for every
       conversation that has one, whatever its SLA outcome.

    `now` is the SLA clock: in replay mode each partition's watermark (latest event time
    less the allowed lateness); the caller moves every partition's watermark to `now`.
    """
    figures: dict[Series, SeriesFigures] = defaultdict(SeriesFigures)
    threads: dict[str, _Thread] = defaultdict(_Thread)
    for event in events:
        series = (str(event["brand"]), str(event["channel"]))
        kind = event["type"]
        if kind == "mention":
            figures[series].mentions += 1
            threads[str(event["conversation_id"])].mentions.append((event_time(event), event))
        elif kind == "reply":
            figures[series].replies["automated" if event.get("automated") else "human"] += 1
            threads[str(event["conversation_id"])].replies.append((event_time(event), event))
    for conversation_id, thread in sorted(threads.items()):
        if not thread.mentions:
            continue
        opened_at = min(at for at, _ in thread.mentions)
        openings = [mention for at, mention in thread.mentions if at == opened_at]
        if len(openings) > 1:
            raise ValueError(f"{conversation_id}: {len(openings)} mentions open it at once")
        opening = openings[0]
        want = figures[(str(opening["brand"]), str(opening["channel"]))]
        priority = str(opening.get("priority") or "normal")
        want.conversations += 1
        deadline = opened_at + target
        after = sorted(
            ((at, reply) for at, reply in thread.replies if at >= opened_at),
            key=lambda item: item[0],
        )
        humans = [at for at, reply in after if not reply.get("automated")]
        if humans:
            first = humans[0]
            want.first_responses.append(first - opened_at)
            want.sla[(priority, "met" if first <= deadline else "breached")] += 1
            continue
        resolutions = [at for at, reply in after if reply.get("resolves")]
        if resolutions and resolutions[0] <= deadline:
            want.stopped.append(conversation_id)
        elif now >= deadline:
            want.sla[(priority, "breached")] += 1
        else:
            want.pending.append(conversation_id)
    return dict(figures)
