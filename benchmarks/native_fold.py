"""The fold of conversations in Python and in the native core, on the same events.

    PYTHONPATH=. .venv/bin/python -m benchmarks.native_fold [--events 50000] [--rounds 3]

The bench's synthetic backlog, decoded, each event folded into its conversation in
event-time order: `processor.domain.conversation.apply_event` with `event_increments`
against `socialcare_native.Conversation` (docs/native-core.md). The native fold is timed
twice: with its change handed back as a Python dict, as the differential tests read it,
and without (`convert=False`), which leaves the event's fields read across the boundary:
the difference is what a per-event boundary costs, which the partition core avoids by
taking a batch at a time. Rounds alternate (`python, native, native, python, ...`); the
median of each is printed, in microseconds per event.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from benchmarks.data import backlog_events
from benchmarks.live_run import alternated
from processor.domain import conversation
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.events import Mention, Redirection, Reply, Survey, decode_event
from processor.domain.sla import SlaPolicyCache
from processor.settings import Settings

POLICIES = SlaPolicyCache()


def decoded(count: int) -> list[Mention | Reply | Redirection | Survey]:
    """The bench's backlog as event structs (in event-time order)."""
    events = []
    for document in backlog_events(count, seed=1):
        event = decode_event(orjson.dumps(document), None, 1 << 20)
        if isinstance(event, Mention | Reply | Redirection | Survey):
            events.append(event)
    return events


def targets(event: Any) -> tuple[float, float, float]:
    if not isinstance(event, Mention):
        return (0.0, 0.0, 0.0)
    priority = event.effective_priority
    return (
        POLICIES.target_seconds("first_response", event.brand, event.channel, priority),
        POLICIES.target_seconds("next_response", event.brand, event.channel, priority),
        POLICIES.target_seconds("resolution", event.brand, event.channel, priority),
    )


def python_fold(events: list[Any], rules: ConversationRules) -> float:
    states: dict[str, ConversationState] = {}
    began = time.perf_counter()
    for event in events:
        state = states.get(event.conversation_id)
        if state is None:
            state = states[event.conversation_id] = ConversationState(event.conversation_id, 0)
        conversation.apply_event(state, event, POLICIES, rules)
        conversation.event_increments(event, rules)
    return time.perf_counter() - began


def native_fold(events: list[Any], rules: ConversationRules, convert: bool) -> float:
    import socialcare_native

    sentiment = rules.sentiment
    folds: dict[str, Any] = {}
    goals = [targets(event) for event in events]  # the policy lookup is Python's either way
    began = time.perf_counter()
    for event, goal in zip(events, goals, strict=True):
        fold = folds.get(event.conversation_id)
        if fold is None:
            fold = folds[event.conversation_id] = socialcare_native.Conversation(
                sentiment.negative_below, sentiment.positive_above,
                rules.inactivity_seconds, rules.at_risk_margin_seconds,
            )  # fmt: skip
        fold.apply(event, goal, False, convert)
        if convert:
            fold.event_increments(event)
    return time.perf_counter() - began


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    try:
        import socialcare_native  # noqa: F401
    except ImportError as exc:
        print(f"the native core is not built ({exc}): pip install ./native", file=sys.stderr)
        return 1
    settings = Settings()
    rules = ConversationRules(inactivity_seconds=settings.inactivity_resolution_seconds)
    events = decoded(arguments.events)
    runs: dict[str, list[float]] = {"python": [], "native": [], "native, no dict back": []}
    folds: dict[str, Callable[[], float]] = {
        "python": lambda: python_fold(events, rules),
        "native": lambda: native_fold(events, rules, convert=True),
        "native, no dict back": lambda: native_fold(events, rules, convert=False),
    }
    for n, kind in enumerate(alternated(("python", "native"), arguments.rounds)):
        for name in (kind,) if kind == "python" else ("native", "native, no dict back"):
            seconds = folds[name]()
            runs[name].append(seconds / len(events) * 1e6)
            print(f"round {n // 2 + 1}, {name}: {runs[name][-1]:.2f} µs per event", flush=True)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    print(f"{len(events):,} events; medians in µs per event: " + ", ".join(
        f"{name} {value:.2f}" for name, value in medians.items()
    ) + f"; python / native {medians['python'] / medians['native']:.1f}x, python / native "
        f"without the dict {medians['python'] / medians['native, no dict back']:.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
