"""Apache Kafka on this machine: the broker users run, for the integration tests and CI.

The jars of one pinned version come from Maven Central (`kafka/pom.xml`, fetched once into
a cache folder with `mvn dependency:copy-dependencies`); the broker runs in KRaft mode,
broker and controller in one JVM, its storage formatted on disk with `StorageTool`, so a
restart on the same log directory keeps the data. Needs Java 17 and Maven; `unavailable()`
says in one line what is missing, for a test to skip with the reason.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from processor.tools.local_services import (
    LOCALHOST,
    ChildProcess,
    LocalServiceError,
    free_port,
    wait_for_port,
)

KAFKA_VERSION = "3.9.1"
POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
CACHE = (
    Path(os.environ.get("SOCIALCARE_KAFKA_CACHE", Path.home() / ".cache" / "socialcare"))
    / f"kafka-{KAFKA_VERSION}"
)

_LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


def unavailable() -> str | None:
    """Why Apache Kafka cannot run here (one line), or None when it can."""
    if shutil.which("java") is None:
        return "Java is not installed (apt-get install -y default-jdk-headless)"
    if not (CACHE / "libs" / ".complete").is_file():
        if shutil.which("mvn") is None:
            return "Maven is not installed to fetch Kafka's jars (apt-get install -y maven)"
        if not POM.is_file():
            return f"{POM} is missing: Apache Kafka runs from a source checkout"
    return None


def classpath() -> str:
    """The Kafka runtime classpath, fetched from Maven Central on first use (once: other
    processes starting a broker meanwhile, such as parallel test processes, wait for it)."""
    libs = CACHE / "libs"
    done = libs / ".complete"
    if done.is_file():
        return str(libs / "*")
    reason = unavailable()
    if reason is not None:
        raise LocalServiceError(f"cannot run Apache Kafka: {reason}")
    libs.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.is_file():
            result = subprocess.run(
                ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                 "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise LocalServiceError(
                    f"mvn could not fetch Apache Kafka {KAFKA_VERSION}:\n"
                    f"{(result.stdout + result.stderr)[-2000:]}"
                )
            done.write_text(KAFKA_VERSION)
    return str(libs / "*")


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (as `random-uuid`),
    not starting with "-" (the storage tool would read it as an option: 1 start in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _properties(data_dir: Path, port: int, controller_port: int, partitions: int) -> str:
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOCALHOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOCALHOST}:{port},CONTROLLER://{LOCALHOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOCALHOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "num.partitions": str(partitions),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        # Oversized input must reach the worker to be dead-lettered (tests send 10 MB).
        "message.max.bytes": str(16 * 1024 * 1024),
        "replica.fetch.max.bytes": str(16 * 1024 * 1024),
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def start_kafka(
    log_dir: Path,
    data_dir: Path | None = None,
    port: int | None = None,
    partitions: int = 4,
    timeout: float = 90.0,
) -> tuple[ChildProcess, str]:
    """An Apache Kafka broker (KRaft, one node) on 127.0.0.1, listening when this returns.

    `data_dir` holds its configuration and log directory: start again with the same folder
    and port to restart the broker with its data. Returns the child and "127.0.0.1:PORT".
    """
    java = shutil.which("java")
    if java is None:
        raise LocalServiceError(f"cannot run Apache Kafka: {unavailable()}")
    jars = classpath()
    data_dir = data_dir or log_dir / "kafka-data"
    config = data_dir / "server.properties"
    if config.is_file() and port is None:
        port = int(config.read_text().split(f"PLAINTEXT://{LOCALHOST}:", 1)[1].split(",")[0])
    port = free_port() if port is None else port
    if not config.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(_properties(data_dir, port, free_port(), partitions))
        (data_dir / "log4j.properties").write_text(_LOG4J)
        formatted = subprocess.run(
            [java, "-cp", jars, "kafka.tools.StorageTool", "format",
             "-t", _cluster_id(), "-c", str(config)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if formatted.returncode != 0:
            raise LocalServiceError(
                f"Kafka storage format failed: {formatted.stdout}{formatted.stderr}"
            )
    argv = [
        java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
        f"-Dlog4j.configuration=file:{data_dir / 'log4j.properties'}",
        "-cp", jars, "kafka.Kafka", str(config),
    ]  # fmt: skip
    child = ChildProcess("kafka", argv, log_dir, die_with_parent=True)
    try:
        wait_for_port(port, timeout, child=child, what="Apache Kafka")
    except LocalServiceError as exc:
        child.stop(timeout=10.0)
        raise LocalServiceError(f"{exc}\n{child.tail()}") from None
    return child, f"{LOCALHOST}:{port}"
