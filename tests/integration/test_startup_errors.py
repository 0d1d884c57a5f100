"""What a user can get wrong at start, through the real commands: one line that says what
to do, exit status 2, no traceback (issue 14)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from processor.domain.deadletters import DEADLETTER_REASONS
from processor.settings import load_settings
from processor.stream.topics import ensure_topics
from processor.tools.cli_values import ReasonChoice
from processor.tools.local_services import free_port
from tests.integration.conftest import WEBHOOK_SECRET, Deployment

pytestmark = pytest.mark.integration


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield holder.getsockname()[1]


def fails_with(deployment: Deployment, command: str, expected: str, **env: str) -> str:
    """Run `socialcare <command>`: exit 2 within the bounded wait, one line saying `expected`."""
    started = time.monotonic()
    result = deployment.cli(command, SOCIALCARE_STARTUP_TIMEOUT_SECONDS="2",
                            SOCIALCARE_WEBHOOK_SECRET=WEBHOOK_SECRET, **env)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and expected in errors[0], output
    assert time.monotonic() - started < 30, "the wait is bounded"
    return errors[0]


def test_broker_unreachable(deployment_factory: Callable[..., Deployment]) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    deployment = deployment_factory(partitions=2)
    for command in ("worker", "webhook"):
        line = fails_with(deployment, command, f"cannot reach Kafka at {nobody} (waited 2s)",
                          KAFKA_BOOTSTRAP_SERVERS=nobody, METRICS_PORT=str(free_port()),
                          SOCIALCARE_WEBHOOK_PORT=str(free_port()))  # fmt: skip
        assert "KAFKA_BOOTSTRAP_SERVERS" in line


def test_redis_unreachable(deployment_factory: Callable[..., Deployment]) -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    line = fails_with(deployment_factory(partitions=2), "worker", "cannot reach Redis at",
                      REDIS_URL=url, METRICS_PORT=str(free_port()))  # fmt: skip
    assert "REDIS_URL" in line and "secret" not in line and "***" in line


def test_port_busy(deployment_factory: Callable[..., Deployment], held_port: int) -> None:
    deployment = deployment_factory(partitions=2)
    fails_with(deployment, "worker", f"port {held_port} on 0.0.0.0 (METRICS_PORT) is not free",
               METRICS_PORT=str(held_port))  # fmt: skip
    fails_with(deployment, "webhook",
               f"port {held_port} on 0.0.0.0 (SOCIALCARE_WEBHOOK_PORT) is not free",
               SOCIALCARE_WEBHOOK_PORT=str(held_port))  # fmt: skip


def test_partition_count_mismatch(
    deployment_factory: Callable[..., Deployment], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = deployment_factory(partitions=2)
    for name, value in deployment.env().items():
        monkeypatch.setenv(name, value)
    asyncio.run(ensure_topics(load_settings()))  # the topics, with 2 partitions
    line = fails_with(deployment, "worker", "has 2 partitions but SOCIALCARE_PARTITIONS=8",
                      SOCIALCARE_PARTITIONS="8", METRICS_PORT=str(free_port()))  # fmt: skip
    assert "set SOCIALCARE_PARTITIONS to match" in line


def test_bad_command_line_values(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(partitions=2)
    refused = {
        ("sla", "set", "--priority", "critical", "--first-response", "600"):
            "'critical' is not one of 'low', 'normal', 'high', 'urgent'",
        ("sla", "set", "--first-response", "10 minutes"):
            "'10 minutes' is not a duration: give seconds (600), ISO 8601 (PT10M)",
        ("deadletters", "list", "--reason", "bogus"):
            "'bogus' is not one of 'invalid_json', 'schema_violation'",
        ("deadletters", "list", "--source", "ftp"): "'ftp' is not one of 'topic', 'webhook'",
    }  # fmt: skip
    for args, expected in refused.items():
        result = deployment.cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and expected in errors[0], result.stderr
    # The SLA file's forms are accepted on the command line too.
    for value, shown in (("PT10M", "0:10:00"), ("00:45:00", "0:45:00"), ("5400", "1:30:00")):
        stored = deployment.cli("sla", "set", "--brand", f"B{value}", "--first-response", value)
        assert stored.returncode == 0, stored.stderr
        listed = deployment.cli("sla", "list")
        assert any(f"B{value}" in line and shown in line for line in listed.stdout.splitlines()), (
            listed.stdout)  # fmt: skip


def test_the_command_line_knows_every_dead_letter_reason() -> None:
    assert [choice.value for choice in ReasonChoice] == list(DEADLETTER_REASONS)
