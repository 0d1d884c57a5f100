"""Real parts for integration tests: Apache Kafka (or Tansu), a Redis server and workers.

The integration tests run on Apache Kafka, the broker users run (jars from Maven Central,
`processor/tools/kafka_broker.py`); without Java or Maven they skip, saying why. Tests
marked `tansu` run on the embedded default, Tansu, instead (the smoke subset for
`socialcare stack`'s broker); `SOCIALCARE_TEST_BROKER=tansu` runs every test on Tansu.
Each test gets its own topic names, app id (consumer group, changelogs) and Redis key
prefix, so tests share one broker and one Redis without seeing each other.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from processor.stream.topics import partitions_of
from processor.tools.kafka_broker import start_kafka
from processor.tools.kafka_broker import unavailable as kafka_unavailable
from processor.tools.local_services import ChildProcess, LocalServiceError, start_redis, start_tansu

# Re-exported: the tests import them from here.
from processor.tools.local_services import free_port as free_port
from processor.tools.local_services import wait_for_port as wait_for_port

REPO = Path(__file__).resolve().parents[2]
Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


@dataclass(frozen=True)
class KafkaServer:
    """The session's Kafka: its address, and its log directory (None for a broker the tests
    did not start)."""

    bootstrap: str
    log_dir: Path | None


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    """An Apache Kafka broker (KRaft, one node, log dir on disk) for the session.

    SOCIALCARE_TEST_BOOTSTRAP points the tests at a broker that is already running instead
    (handy to look at the topics after a failure).
    """
    existing = os.environ.get("SOCIALCARE_TEST_BOOTSTRAP")
    if existing:
        yield KafkaServer(existing, None)
        return
    reason = kafka_unavailable()
    if reason is not None:
        pytest.skip(f"Apache Kafka tests need Java and Maven: {reason}")
    log_dir = tmp_path_factory.mktemp("kafka")
    kafka, bootstrap = start_kafka(log_dir)
    try:
        yield KafkaServer(bootstrap, log_dir / "kafka-data" / "logs")
    finally:
        kafka.stop(timeout=30)


@pytest.fixture(scope="session")
def kafka_broker(kafka_server: KafkaServer) -> str:
    """The bootstrap address of the session's Apache Kafka."""
    return kafka_server.bootstrap


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker (Kafka protocol, memory storage): the stack's zero-install default."""
    tansu, bootstrap = start_tansu(tmp_path_factory.mktemp("tansu"))
    try:
        yield bootstrap
    finally:
        tansu.stop(timeout=10)


def broker_kind(request: pytest.FixtureRequest) -> str:
    """`tansu` for tests marked so (or everything with SOCIALCARE_TEST_BROKER=tansu)."""
    if os.environ.get("SOCIALCARE_TEST_BROKER") == "tansu":
        return "tansu"
    if request.node.get_closest_marker("tansu") is not None:
        return "tansu"
    return "kafka"


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> str:
    """The bootstrap address of the test's broker (see `broker_kind`)."""
    kind = broker_kind(request)
    return str(request.getfixturevalue(f"{kind}_broker"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for the session (no persistence)."""
    try:
        redis, url = start_redis(tmp_path_factory.mktemp("redis"))
    except LocalServiceError as exc:
        pytest.fail(f"{exc} (see .ci/run)")
    try:
        yield url
    finally:
        redis.stop(timeout=10)


@dataclass
class Deployment:
    """One test's topics, app id and the environment its workers and CLI calls get."""

    broker: str
    redis_url: str
    app_id: str
    partitions: int
    extra_env: dict[str, str] = field(default_factory=dict)
    topic_prefix: str = ""
    kind: str = "kafka"  # the broker: kafka or tansu

    def sharing_topics(self) -> Deployment:
        """Another app (own consumer group, changelogs, Redis keys) on the same input topics."""
        return Deployment(
            broker=self.broker, redis_url=self.redis_url, app_id=f"t{uuid.uuid4().hex[:10]}",
            partitions=self.partitions, extra_env=self.extra_env,
            topic_prefix=self.topic_prefix or self.app_id, kind=self.kind,
        )  # fmt: skip

    @property
    def topics(self) -> dict[str, str]:
        prefix = self.topic_prefix or self.app_id
        return {
            kind: f"{prefix}.{kind}"
            for kind in ("mentions", "replies", "redirections", "surveys", "deadletters")
        }

    def topic_for(self, event_type: str) -> str:
        return self.topics[
            {"mention": "mentions", "reply": "replies", "redirection": "redirections",
             "survey": "surveys"}[event_type]
        ]  # fmt: skip

    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.broker,
            REDIS_URL=self.redis_url,
            SOCIALCARE_APP_ID=self.app_id,
            SOCIALCARE_PARTITIONS=str(self.partitions),
            SOCIALCARE_TOPIC_MENTIONS=self.topics["mentions"],
            SOCIALCARE_TOPIC_REPLIES=self.topics["replies"],
            SOCIALCARE_TOPIC_REDIRECTIONS=self.topics["redirections"],
            SOCIALCARE_TOPIC_SURVEYS=self.topics["surveys"],
            SOCIALCARE_TOPIC_DEADLETTERS=self.topics["deadletters"],
            SOCIALCARE_SESSION_TIMEOUT_SECONDS="6",
            SOCIALCARE_REBALANCE_TIMEOUT_SECONDS="4",
            SOCIALCARE_SWEEP_INTERVAL_SECONDS="0.5",
            SOCIALCARE_SLA_REFRESH_SECONDS="0.5",
            # Tansu has no transactions and reports end offsets wrongly for multi-record
            # batches (README, Guarantees).
            SOCIALCARE_ONE_RECORD_PER_BATCH="true" if self.kind == "tansu" else "false",
            SOCIALCARE_PROCESSING_GUARANTEE=(
                "at_least_once" if self.kind == "tansu" else "exactly_once"
            ),
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        # A command that builds a worker (one failing at start) opens its local state: out
        # of the checkout, whose default `./socialcare-data` it would otherwise be.
        env.setdefault("SOCIALCARE_DATA_DIR", tempfile.mkdtemp(prefix=f"{self.app_id}-cli-"))
        return subprocess.run(
            [sys.executable, "-m", "processor", *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def produce(self, events: Iterable[dict[str, Any] | tuple[str, bytes | None, bytes]]) -> None:
        """Send events (dicts go to their type's topic) or raw (topic, key, value) records."""
        asyncio.run(self._produce(list(events)))

    async def _produce(
        self, events: list[dict[str, Any] | tuple[str, bytes | None, bytes]]
    ) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.broker, acks="all", linger_ms=2)
        await producer.start()
        try:
            for item in events:
                if isinstance(item, tuple):
                    topic, key, value = item
                    await producer.send(topic, value=value, key=key)
                else:
                    await producer.send(
                        self.topic_for(str(item["type"])),
                        value=orjson.dumps(item),
                        key=str(item["conversation_id"]).encode(),
                    )
            await producer.flush()
        finally:
            await producer.stop()

    def records(self, topic: str, quiet: float = 2.0) -> list[tuple[bytes | None, bytes]]:
        """Every (key, value) of a topic so far: read until nothing new comes for `quiet` s."""
        return asyncio.run(self._records(topic, quiet))

    async def _records(self, topic: str, quiet: float) -> list[tuple[bytes | None, bytes]]:
        # No consumer group (Tansu delays a join by half the rebalance timeout): assign all.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.broker, enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed",
        )  # fmt: skip
        partitions = await partitions_of(self.broker, topic)
        await consumer.start()
        found: list[tuple[bytes | None, bytes]] = []
        try:
            consumer.assign([TopicPartition(topic, number) for number in partitions])
            last_news = time.monotonic()
            while time.monotonic() - last_news < quiet:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    found.extend((record.key, record.value or b"") for record in records)
                    last_news = time.monotonic()
        finally:
            await consumer.stop()
        return found

    def dead_letters(self, expected: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        return asyncio.run(self._read_topic(self.topics["deadletters"], expected, timeout))

    async def _read_topic(self, topic: str, expected: int, timeout: float) -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.broker, auto_offset_reset="earliest",
            group_id=f"reader-{uuid.uuid4().hex}", enable_auto_commit=False,
            isolation_level="read_committed",  # dead letters of aborted batches are not
        )  # fmt: skip
        await consumer.start()
        found: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + timeout
            while len(found) < expected and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    found.extend(orjson.loads(record.value) for record in records)
            await asyncio.sleep(1.0)  # anything beyond the expected count shows up too
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(orjson.loads(record.value) for record in records)
        finally:
            await consumer.stop()
        return found


class WorkerProcess(ChildProcess):
    """A `socialcare worker` (or `webhook`) subprocess and its /metrics (or webhook) port.

    `stop()` (SIGTERM, then SIGKILL), `kill()`, `alive`, `process` and `log_path` come from
    `ChildProcess`.
    """

    def __init__(
        self, deployment: Deployment, log_dir: Path, name: str, command: str = "worker",
        port: int | None = None, **env: str,
    ) -> None:  # fmt: skip
        self.port = port if port is not None else free_port()
        port_variable = "SOCIALCARE_WEBHOOK_PORT" if command == "webhook" else "METRICS_PORT"
        # A worker's local state is its own (RocksDB locks it); a restart under the same
        # name finds it again, as a restarted container with its volume does.
        env.setdefault("SOCIALCARE_DATA_DIR", str(log_dir / f"{name}-data"))
        super().__init__(
            name,
            [sys.executable, "-m", "processor", command],
            log_dir,
            env=deployment.env(**{port_variable: str(self.port)}, **env),
            cwd=log_dir,
            new_session=False,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/metrics"

    def post_events(
        self, body: bytes, content_type: str = "application/json", **headers: str
    ) -> tuple[int, dict[str, Any]]:
        """POST to the webhook's /v1/events (`Header_Name=value`); (status, JSON answer)."""
        request = urllib.request.Request(
            f"{self.base}/v1/events", data=body, method="POST",
            headers={"Content-Type": content_type,
                     **{name.replace("_", "-"): value for name, value in headers.items()}},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, orjson.loads(error.read())

    def log_tail(self, lines: int = 60) -> str:
        return self.tail(lines)

    def raw(self) -> str:
        """The /metrics text exposition."""
        if not self.alive:
            raise AssertionError(f"worker {self.name} exited:\n{self.log_tail()}")
        with urllib.request.urlopen(self.url, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def scrape(self) -> Samples:
        text = self.raw()
        samples: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return samples

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the worker serves /metrics and owns at least one partition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if value(self.scrape(), "socialcare_owned_partitions") > 0:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker {self.name} not ready in {timeout}s:\n{self.log_tail()}")


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (sample, sample_labels), v in samples.items()
               if sample == name and wanted <= sample_labels)  # fmt: skip


def customers_caught_up(samples: Samples) -> bool:
    """Every conversation's opening and first resolution counted on its customer's side
    (the internal customer-contacts topic read to its end)."""
    return value(samples, "socialcare_customer_conversations_total") == value(
        samples, "socialcare_conversations_opened_total"
    ) and value(samples, "socialcare_customer_resolutions_total") == value(
        samples, "socialcare_resolution_seconds_count"
    )


def processed_all(samples: Samples, events: int) -> bool:
    """`events` input events processed and their customers' side caught up."""
    done = value(samples, "socialcare_events_processed_total") == events
    return done and customers_caught_up(samples)


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, diagnostics: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{diagnostics()}")


@pytest.fixture
def deployment_factory(
    request: pytest.FixtureRequest, broker: str, redis_url: str
) -> Callable[..., Deployment]:
    kind = broker_kind(request)

    def make(partitions: int = 4, **extra_env: str) -> Deployment:
        return Deployment(
            broker=broker, redis_url=redis_url, app_id=f"t{uuid.uuid4().hex[:10]}",
            partitions=partitions, extra_env=extra_env, kind=kind,
        )  # fmt: skip

    return make


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(
        deployment: Deployment, name: str = "worker", port: int | None = None, **env: str
    ) -> WorkerProcess:
        worker = WorkerProcess(deployment, tmp_path, name, port=port, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


WEBHOOK_SECRET = "test-secret-0123456789abcdef"


@pytest.fixture
def webhooks(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """`socialcare webhook` processes, secret WEBHOOK_SECRET unless given; ready when yielded."""
    started: list[WorkerProcess] = []

    def start(deployment: Deployment, name: str = "webhook", **env: str) -> WorkerProcess:
        env.setdefault("SOCIALCARE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        webhook = WorkerProcess(deployment, tmp_path, name, command="webhook", **env)
        started.append(webhook)

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{webhook.base}/ready", timeout=2) as response:
                    return bool(orjson.loads(response.read())["ready"])
            except (urllib.error.URLError, ConnectionError, OSError):
                if not webhook.alive:
                    raise AssertionError(f"webhook exited:\n{webhook.log_tail()}") from None
                return False

        wait_until(ready, 60, "the webhook to serve", webhook.log_tail)
        return webhook

    yield start
    for webhook in started:
        webhook.stop()
