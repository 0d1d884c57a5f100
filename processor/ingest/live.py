"""Live synthetic traffic: the generator stamped with the wall clock, onto the topics.

Behind `socialcare generate` (and the stack): a demo, a load for the boards, an SLA breach
drill (`--unanswered-brand`). History as a file comes from `SyntheticTraffic` directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from rich.console import Console

from processor.ingest.producer import EventProducer, event_time
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile, format_event_time
from processor.settings import Settings
from processor.stream.topics import ensure_topics


async def live_traffic(
    seed: int, profile: TrafficProfile, interval: float = 1.0, time_scale: float = 1.0
) -> AsyncIterator[list[dict[str, object]]]:
    """Batches of synthetic events stamped with the wall clock, one batch per interval.

    `time_scale` > 1 runs the simulation faster than real time (60: a simulated hour per
    minute) and stamps each event at its compressed wall time, so conversations live their
    whole course (replies, follow-ups, surveys) within a short demo or test.
    """
    start = time.time()
    traffic = SyntheticTraffic(start=start, seed=seed, profile=profile)
    while True:
        now = time.time()
        batch = traffic.advance(start + (now - start) * time_scale)
        if time_scale != 1.0:
            batch = [compress_time(event, start, time_scale) for event in batch]
        yield batch
        await asyncio.sleep(interval)


def compress_time(event: dict[str, object], start: float, time_scale: float) -> dict[str, object]:
    """The event re-stamped from simulated time to wall time: start + (t - start) / scale."""
    simulated = event_time(event)
    wall_ms = round((start + (simulated - start) / time_scale) * 1000)
    return {**event, "occurred_at": format_event_time(wall_ms)}


async def run_generator(
    settings: Settings,
    seed: int,
    profile: TrafficProfile,
    console: Console,
    time_scale: float = 1.0,
    unanswered_brands: frozenset[str] = frozenset(),
) -> None:
    """Produce live synthetic traffic until interrupted.

    The brand-side events (replies, redirections) of `unanswered_brands` are withheld: their
    care team is away, as when a team stops answering (an SLA breach drill).
    """
    await ensure_topics(settings)
    sent = withheld = 0
    async with EventProducer(settings) as producer:
        async for batch in live_traffic(seed, profile, time_scale=time_scale):
            for document in batch:
                if document.get("brand") in unanswered_brands and document.get("type") in (
                    "reply",
                    "redirection",
                ):
                    withheld += 1
                    continue
                await producer.send(document)
                sent += 1
            if batch:
                note = f", {withheld} withheld" if withheld else ""
                console.log(f"generator: {sent} events sent{note}")
