"""Creation of the processor's topics with one partition count (they must be co-partitioned)."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from processor.errors import SocialcareError
from processor.settings import Settings
from processor.state.records import changelog_topic

log = logging.getLogger(__name__)


class TopicLayoutError(SocialcareError):
    """An existing topic has a partition count that breaks co-partitioning."""


def all_topics(settings: Settings) -> list[str]:
    return [
        *settings.input_topics, settings.topic_deadletters, settings.topic_ticks,
        settings.topic_customer_contacts, changelog_topic(settings.app_id),
    ]  # fmt: skip


# A dead letter keeps up to 1 MB of its input, base64 in JSON; a long thread's state can
# pass the broker's default 1 MB too. Refused, it would fail its whole batch again and again.
LARGE_RECORDS = {"max.message.bytes": str(8 * 1_048_576)}
CONTACTS_RETENTION_MS = 30 * 86_400_000


def topic_config(settings: Settings, name: str) -> dict[str, str]:
    """The changelog keeps the newest record of every key, never deleted by age; it and
    the dead-letter topic accept records up to 8 MB; customer contacts are kept 30 days."""
    if name == changelog_topic(settings.app_id):
        return {"cleanup.policy": "compact", **LARGE_RECORDS}
    if name == settings.topic_deadletters:
        return dict(LARGE_RECORDS)
    if name == settings.topic_customer_contacts:
        # Read within seconds normally; kept through a month-long outage of the workers.
        return {"retention.ms": str(CONTACTS_RETENTION_MS)}
    return {}


async def ensure_topics(settings: Settings, timeout: float = 60.0) -> None:
    """Create missing topics; fail clearly if an input topic has another partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.2, max=3),
        retry=retry_if_exception_type(Exception),
        reraise=True,
    ):
        with attempt:
            await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in all_topics(settings) if name not in existing]
        if missing:
            log.info("creating topics %s with %d partitions", missing, settings.partitions)
            await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=settings.partitions,
                        replication_factor=1,
                        topic_configs=topic_config(settings, name),
                    )
                    for name in missing
                ]
            )
        described = await admin.describe_topics([topic for topic in all_topics(settings)])
        for topic in described:
            count = len(topic.get("partitions", []))
            if count and count != settings.partitions:
                raise TopicLayoutError(
                    f"topic {topic['topic']} has {count} partitions but SOCIALCARE_PARTITIONS="
                    f"{settings.partitions}; input topics must be co-partitioned: set "
                    "SOCIALCARE_PARTITIONS to match or recreate the topics"
                )
    finally:
        await admin.close()


async def partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    """The partition numbers of a topic ([] if it does not exist), from the broker itself.

    For readers without a consumer group: a consumer's own metadata cache knows only the
    topics it subscribed to, so on Apache Kafka it cannot say how a topic is partitioned.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        int(partition["partition"])
        for found in described
        if found.get("topic") == topic and not found.get("error_code")
        for partition in found.get("partitions", [])
    )
