"""Process entry points behind the CLI: the worker, the live generator, SLA edits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import redis.asyncio as aioredis
from rich.console import Console

from processor.ingest import EventProducer, live_traffic
from processor.settings import Settings
from processor.sla import SlaPolicySet, SlaPolicyStore, SlaRule
from processor.synthetic import TrafficProfile
from processor.topics import TopicLayoutError, ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> int:
    """Create topics, apply the SLA file, then run the Faust worker until stopped."""
    import faust

    from processor.app import Worker

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = Worker(settings)
    try:
        loop.run_until_complete(ensure_topics(settings))
        loop.run_until_complete(worker.prepare())
    except (TopicLayoutError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error(
            "cannot reach Kafka or Redis (%s): check KAFKA_BOOTSTRAP_SERVERS and REDIS_URL", exc
        )
        return 2
    faust_worker = faust.Worker(worker.app, loglevel=settings.log_level.upper(), loop=loop)
    # Faust's terminal spinner sets the root logger to DEBUG at level WARNING and above,
    # which makes every library debug call build a log record (about 10% of the CPU).
    faust_worker.spinner = None
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


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


@asynccontextmanager
async def policy_store(settings: Settings) -> AsyncIterator[SlaPolicyStore]:
    """The SLA policy store in Redis, for one CLI command."""
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        yield SlaPolicyStore(client, settings.redis_prefix)
    finally:
        await client.aclose()


async def load_policies(settings: Settings) -> tuple[SlaPolicySet, int]:
    async with policy_store(settings) as store:
        return await store.load()


async def set_policy_rule(settings: Settings, rule: SlaRule) -> int:
    async with policy_store(settings) as store:
        return await store.set_rule(rule)


async def set_default_policy(settings: Settings, targets: dict[str, timedelta | None]) -> int:
    async with policy_store(settings) as store:
        return await store.set_default(targets)
