"""The webhook and the worker's port under abuse, through the real processes (issue 13).

What an unauthenticated sender can cost is measured on the webhook process itself (CPU
seconds and resident memory from /proc) and bounded; nothing a client sends gets a 500;
what an authenticated client sends wrong is one dead letter per event, or one per request
when the request as a whole is wrong.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import http.client
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.ingest.webhook_auth import sign
from processor.tools.kafka_broker import start_kafka
from processor.tools.kafka_broker import unavailable as kafka_unavailable
from tests.integration.conftest import (
    WEBHOOK_SECRET,
    Deployment,
    WorkerProcess,
    value,
    wait_until,
)
from tests.integration.test_webhook import mention

pytestmark = pytest.mark.integration

MIB = 1 << 20


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def post(
    webhook: WorkerProcess, body: bytes, headers: dict[str, str], timeout: float = 30
) -> tuple[int, dict[str, str], Any]:
    """POST /v1/events with exactly these headers; (status, headers, JSON answer or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", webhook.port, timeout=timeout)
    try:
        connection.request("POST", "/v1/events", body=body,
                           headers={"Content-Type": "application/json", **headers})  # fmt: skip
        response = connection.getresponse()
        raw = response.read()
        try:
            answer: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = raw.decode(errors="replace")
        return response.status, dict(response.headers), answer
    finally:
        connection.close()


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {WEBHOOK_SECRET}"}


def signed(body: bytes) -> dict[str, str]:
    return {"X-Socialcare-Signature": sign(WEBHOOK_SECRET, int(time.time()), body)}


def statuses(webhook: WorkerProcess) -> dict[str, float]:
    """socialcare_webhook_requests_total by status code."""
    with urllib.request.urlopen(f"{webhook.base}/metrics", timeout=5) as response:
        page = response.read().decode()
    counts: dict[str, float] = {}
    for line in page.splitlines():
        if line.startswith("socialcare_webhook_requests_total{"):
            status = line.split('code="', 1)[1].split('"', 1)[0]
            counts[status] = float(line.rsplit(" ", 1)[1])
    return counts


def test_unauthenticated_senders_cost_bounded_cpu_and_memory(
    deployment_factory: Callable[..., Deployment], webhooks: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=1)
    webhook = webhooks(deployment, SOCIALCARE_WEBHOOK_READ_TIMEOUT_SECONDS="3",
                       SOCIALCARE_WEBHOOK_MAX_UNVERIFIED_REQUESTS="8")  # fmt: skip
    pid = webhook.process.pid
    limit = 4 * MIB  # the default SOCIALCARE_WEBHOOK_MAX_BODY_BYTES

    # 1. Bombs: 64 MiB of gzip in 65 kB, signed (over the bytes sent), 20 times; a 64 MiB
    # chunked body, signed, 3 times. Before: 0.22 s of CPU each for the gzip ones.
    bomb = gzip.compress(b"\0" * (64 * MIB), compresslevel=9)
    assert len(bomb) < 100_000
    huge = b" " * (64 * MIB)
    before = cpu_seconds(pid)
    for _ in range(20):
        status, _, answer = post(webhook, bomb, {**signed(bomb), "Content-Encoding": "gzip"})
        assert status == 415 and "Bearer" in answer["error"], answer
    for _ in range(3):
        chunked = http.client.HTTPConnection("127.0.0.1", webhook.port, timeout=30)
        chunked.putrequest("POST", "/v1/events")
        for name, field in {**signed(huge), "Content-Type": "application/json",
                            "Transfer-Encoding": "chunked"}.items():  # fmt: skip
            chunked.putheader(name, field)
        chunked.endheaders()
        sent = 0
        try:
            while sent < len(huge):
                chunk = huge[sent : sent + MIB]
                chunked.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end: what should happen
        assert chunked.getresponse().status == 413
        chunked.close()
    spent = cpu_seconds(pid) - before
    # 23 bombs: a few milliseconds each (at most 4 MiB hashed), not 0.2 s each.
    assert spent < 1.0, f"{spent:.2f} s of webhook CPU for 23 unauthenticated bombs"

    # 2. 100 stalled signed requests, each promising 4 MiB and sending 1 MiB. Before: about
    # 300 MB held. Now: at most 8 are read at once (the others get 503 at once), and those
    # are dropped at the read timeout.
    rss_before = rss_bytes(pid)
    body = b"x" * limit
    fields = {**signed(body), "Content-Type": "application/json", "Content-Length": str(limit)}
    head = "POST /v1/events HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n"  # fmt: skip
    stalled = []
    for _ in range(100):
        stalling = socket.create_connection(("127.0.0.1", webhook.port), timeout=10)
        stalling.sendall(head.encode() + body[:MIB])
        stalled.append(stalling)
    time.sleep(1.0)
    held = rss_bytes(pid) - rss_before
    # A legitimate sender still gets through, at once.
    started = time.monotonic()
    status, _, answer = post(webhook, orjson.dumps(mention("m-ok", "c-ok", time.time() - 60)),
                             bearer())  # fmt: skip
    assert status == 200, answer
    assert time.monotonic() - started < 2.0
    answers = []
    for stalling in stalled:
        stalling.settimeout(10)
        try:
            answers.append(stalling.recv(200).split(b" ", 2)[1])
        except (ConnectionResetError, TimeoutError):
            answers.append(b"reset")
        stalling.close()
    assert answers.count(b"503") == 92, answers
    assert answers.count(b"408") + answers.count(b"reset") == 8, answers
    assert held < 64 * MIB, f"{held / MIB:.0f} MiB held by 100 stalled connections"

    # 3. Request heads that never end: closed at the read timeout.
    heads = []
    for _ in range(20):
        slow = socket.create_connection(("127.0.0.1", webhook.port), timeout=10)
        slow.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        heads.append(slow)
    started = time.monotonic()
    for slow in heads:
        assert slow.recv(100) == b""  # closed by the server
        slow.close()
    assert time.monotonic() - started < 8.0
    # Everything was refused before any work: no dead letter, no 500.
    assert statuses(webhook).get("500", 0.0) == 0.0
    assert deployment.dead_letters(expected=0, timeout=2.0) == []
    assert "Traceback" not in webhook.log_path.read_text()


def test_nothing_a_client_sends_gets_a_500(
    deployment_factory: Callable[..., Deployment], webhooks: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=1)
    webhook = webhooks(deployment, SOCIALCARE_WEBHOOK_MAX_EVENTS="100",
                       SOCIALCARE_WEBHOOK_MAX_LISTED_REJECTIONS="10",
                       SOCIALCARE_WEBHOOK_MAX_BODY_BYTES="65536")  # fmt: skip
    event = orjson.dumps(mention("m-1", "c-1", time.time() - 60))
    digest = "0" * 64
    refused = {
        "superscript two as t": ({"X-Socialcare-Signature": f"t=\u00b2,v1={digest}"}, 401),
        "400-digit t": ({"X-Socialcare-Signature": f"t={'9' * 400},v1={digest}"}, 401),
        "arabic-indic t": ({"X-Socialcare-Signature": f"t=\u0663,v1={digest}"}, 401),
        "non-ASCII bearer": ({"Authorization": "Bearer s\u00e9cret"}, 401),
        "unknown encoding": ({**bearer(), "Content-Encoding": "br"}, 415),
    }
    for what, (headers, expected) in refused.items():
        encoded = {name: value.encode("utf-8").decode("latin-1") for name, value in
                   headers.items()}  # fmt: skip
        status, _, answer = post(webhook, event, encoded)
        assert status == expected, (what, answer)

    # Bodies an authenticated sender gets wrong as a whole: one dead letter each.
    garbage = b"\x1f\x8b\x08\x00" + b"garbage after a gzip header"
    status, _, answer = post(webhook, garbage, {**bearer(), "Content-Encoding": "gzip"})
    assert status == 400, answer
    too_many = orjson.dumps([{}] * 101)
    status, _, answer = post(webhook, too_many, bearer())
    assert status == 413 and "101 events" in answer["error"], answer
    pretty = b"[\n" + b",\n".join(b'  {\n    "event_id": "p-%d"\n  }' % i for i in range(99))
    status, _, answer = post(webhook, pretty.replace(b"},\n", b"}\n", 1) + b"\n]", bearer())
    assert (status, answer["rejected"]) == (400, 1), answer
    # A chunked body past the hard cap (16 x 64 kB): 413, and its dead letter.
    connection = http.client.HTTPConnection("127.0.0.1", webhook.port, timeout=30)
    connection.putrequest("POST", "/v1/events")
    for name, field in {**bearer(), "Content-Type": "application/json",
                        "Transfer-Encoding": "chunked"}.items():  # fmt: skip
        connection.putheader(name, field)
    connection.endheaders()
    try:
        for _ in range(32):
            connection.send(b"10000\r\n" + b"[" * 65536 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert connection.getresponse().status == 413
    connection.close()

    # Per-event rejections: all dead-lettered, the first 10 listed.
    status, _, answer = post(webhook, orjson.dumps([{}] * 50), bearer())
    assert status == 422
    assert (answer["rejected"], answer["unlisted_rejections"], len(answer["results"])) == (
        50, 40, 10)  # fmt: skip

    # X-Request-Id: echoed when plain, replaced when not.
    _, headers, answer = post(webhook, event, {**bearer(), "X-Request-Id": "r" * 1000})
    assert headers["X-Request-Id"] != "r" * 1000 and len(headers["X-Request-Id"]) == 32
    assert answer["request_id"] == headers["X-Request-Id"]
    _, headers, _ = post(webhook, event, {**bearer(), "X-Request-Id": "retry-7"})
    assert headers["X-Request-Id"] == "retry-7"

    letters = deployment.dead_letters(expected=54, timeout=30.0)
    reasons = sorted(letter["reason"] for letter in letters)
    assert reasons.count("schema_violation") == 50
    assert reasons.count("invalid_json") == 2  # the gzip garbage, the pretty-printed body
    assert reasons.count("oversized") == 2  # too many events, the chunked body
    capped = [letter for letter in letters if letter.get("size_is_lower_bound")]
    assert len(capped) == 1 and capped[0]["original_size"] > 16 * 65536
    assert statuses(webhook).get("500", 0.0) == 0.0
    assert "Traceback" not in webhook.log_path.read_text()


def test_worker_port_serves_only_metrics_and_ready(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    worker = workers(deployment_factory(partitions=1))
    worker.wait_ready()
    for path in ("/table/conversations/x/", "/table/", "/router/", "/router/x/", "/",
                 "/stats/", "/graph/", "/performance/"):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{worker.base}{path}", timeout=5)
        assert refused.value.code == 404, path
    for path in ("/metrics", "/ready"):
        with urllib.request.urlopen(f"{worker.base}{path}", timeout=5) as response:
            assert response.status == 200, path


@pytest.mark.skipif(kafka_unavailable() is not None, reason=f"Kafka: {kafka_unavailable()}")
def test_webhook_ready_follows_kafka(
    tmp_path: Path,
    deployment_factory: Callable[..., Deployment],
    webhooks: Callable[..., WorkerProcess],
) -> None:
    """Broker paused (SIGSTOP): /ready false within seconds, requests 503 at once (they
    waited 40 s before); resumed: ready again, requests published."""
    kafka, bootstrap = start_kafka(tmp_path / "kafka")
    try:
        deployment = dataclasses.replace(deployment_factory(partitions=1), broker=bootstrap)
        webhook = webhooks(deployment)

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{webhook.base}/ready", timeout=5) as response:
                    return bool(orjson.loads(response.read())["ready"])
            except urllib.error.HTTPError as error:
                assert error.code == 503
                return False

        event = orjson.dumps(mention("m-ready", "c-ready", time.time() - 60))
        assert ready() and post(webhook, event, bearer())[0] == 200
        kafka.process.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: not ready(), 15, "/ready to say false", webhook.log_tail)
            started = time.monotonic()
            status, _, answer = post(webhook, event, bearer())
            assert status == 503 and "unreachable" in answer["error"], answer
            assert time.monotonic() - started < 1.0
        finally:
            kafka.process.send_signal(signal.SIGCONT)
        wait_until(ready, 30, "/ready to say true again", webhook.log_tail)
        assert post(webhook, event, bearer())[0] == 200
        log = webhook.log_path.read_text()
        assert "Kafka unreachable" in log and "Kafka reachable again" in log
    finally:
        kafka.stop(timeout=30)


def test_a_reused_event_id_is_dead_lettered_not_dropped(
    deployment_factory: Callable[..., Deployment],
    webhooks: Callable[..., WorkerProcess],
    workers: Callable[..., WorkerProcess],
) -> None:
    """A mention of conversation B under the id of A's mention, once A's was counted:
    accepted by the webhook (it holds no state), then dead-lettered `conflicting_event_id`
    by the worker, findable with `deadletters list --event-id`; A's true re-sent copy is a
    duplicate.

    A's mention is counted before the others are sent: the two conversations may be on
    different partitions, which Kafka does not order against each other (in one batch the
    worker takes a fetch's partitions in turn), so of two events sent at once under one
    id either may be the one counted."""
    deployment = deployment_factory(partitions=2)
    webhook = webhooks(deployment)
    worker = workers(deployment)
    worker.wait_ready()
    now = time.time()
    first = mention("m-shared", "c-A", now - 60)
    impostor = mention("m-shared", "c-B", now - 50)

    def processed(outcome: str) -> float:
        return value(worker.scrape(), "socialcare_events_processed_total", type="mention",
                     outcome=outcome)  # fmt: skip

    for sent, body in enumerate((first, impostor, first)):
        status, _, answer = post(webhook, orjson.dumps(body), bearer())
        assert status == 200, answer
        if sent == 0:
            wait_until(lambda: processed("counted") == 1, 60, "A's mention counted",
                       worker.log_tail)  # fmt: skip
    wait_until(lambda: processed("counted") + processed("duplicate")
               + processed("deadlettered") >= 3, 60, "three mentions handled",
               worker.log_tail)  # fmt: skip
    assert (processed("counted"), processed("duplicate"), processed("deadlettered")) == (1, 1, 1)
    samples = worker.scrape()
    assert value(samples, "socialcare_deadletters_total", reason="conflicting_event_id") == 1
    opened = sum(v for (name, labels), v in samples.items()
                 if name == "socialcare_conversations_opened_total")  # fmt: skip
    assert opened == 1
    listed = deployment.cli("deadletters", "list", "--event-id", "m-shared", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    (letter,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert letter["reason"] == "conflicting_event_id"
    assert orjson.loads(base64.b64decode(letter["original_value_b64"]))["conversation_id"] == "c-B"
    topic = deployment.topic_for("mention")
    assert f"(at {topic}/" in letter["detail"], letter["detail"]
