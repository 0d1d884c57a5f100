"""`socialcare sla list|set`: the SLA policy store in Redis, one connection per command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import redis.asyncio as aioredis

from processor.domain.sla import SlaPolicySet, SlaRule
from processor.settings import Settings
from processor.stream.policy_store import SlaPolicyStore


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
