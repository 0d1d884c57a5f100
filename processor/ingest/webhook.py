"""HTTP ingest for listening platforms: `POST /v1/events`, authenticated, validated, published.

A service of its own (`socialcare webhook`), not a page of the worker: it scales and
restarts independently of partition ownership, and a rebalance never drops a delivery.

Request
  - Body: one event (a JSON object), a batch (a JSON array), or JSON lines
    (`Content-Type: application/x-ndjson` or `application/jsonl`; lines sent as
    application/json whose first line is an event on its own are read as JSON lines too).
    A JSON body is judged whole: if it is not valid JSON it is one dead letter and a 400.
    With JSON lines each line stands alone: a broken line is rejected, the others go on.
  - Authentication (`processor.ingest.webhook_auth`), either of:
    `Authorization: Bearer <secret>`, or
    `X-Socialcare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`
    (the scheme listening platforms and Stripe use; several `v1=` are allowed). A signature
    whose `t` is more than SOCIALCARE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS from the clock
    is refused, so a captured request cannot be replayed later. Any of the secrets in
    SOCIALCARE_WEBHOOK_SECRET (comma-separated) verifies.
  - `Content-Encoding: gzip` or `deflate` only with the bearer token: a signature can only
    be checked once the body is read, and nobody unauthenticated gets the webhook to inflate.
  - Limits (`processor.ingest.webhook_body`): SOCIALCARE_WEBHOOK_MAX_BODY_BYTES per request
    (a signed body stops being read there), SOCIALCARE_WEBHOOK_MAX_EVENTS events per
    request, SOCIALCARE_MAX_EVENT_BYTES per event, SOCIALCARE_WEBHOOK_READ_TIMEOUT_SECONDS
    to send the request head and then the body, SOCIALCARE_WEBHOOK_MAX_UNVERIFIED_REQUESTS
    signed requests being read at once. `X-Request-Id` is echoed when it is a plain token of
    at most 128 characters, replaced otherwise.

Response: JSON `{"request_id", "accepted", "rejected", "unlisted_rejections", "results"}`,
one result per accepted event and per rejected one up to
SOCIALCARE_WEBHOOK_MAX_LISTED_REJECTIONS, in order: `{"index", "event_id", "status":
"accepted", "topic"}` or `{"index", "event_id", "status": "rejected", "reason", "detail"}`.
Status 200 when all were accepted, 207 when some were, 422 when none was; 400 for a body
that is not JSON or not decodable, 401 for missing or wrong credentials (nothing is
published), 408 for a body not sent in time, 413 over a limit, 415 for an unsupported
content type or encoding, 503 when Kafka is unreachable or too many signed requests are in
flight (retry: re-sent events are counted once, by event_id). Never a 500 for anything a
client sends.

Every rejected event of an authenticated request is kept in the dead-letter topic (reason,
detail, original bytes, `source: "webhook"`, the request id) and counted in
`socialcare_deadletters_total{reason}`; a request over a limit is one dead letter (its
head, size and hash). Accepted events go to their topic keyed by conversation (contact
counts by brand); the worker checks the rest (duplicates, lateness, order) and
dead-letters what fails there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from processor.domain.admission import time_bounds_rejection
from processor.domain.deadletters import DEADLETTER_REASONS, HEAD_BYTES, envelope
from processor.domain.events import AnyEvent, Rejection, decode_event
from processor.ingest.producer import event_key, message_key
from processor.ingest.webhook_auth import AuthError, authenticate
from processor.ingest.webhook_body import (
    JSON_LINES_TYPES,
    JSON_TYPES,
    Oversized,
    Refusal,
    decompress,
    encoding_refusal,
    read_body,
    request_id_of,
    split_body,
)
from processor.metrics import families as f
from processor.metrics.health import counter, histogram, new_registry
from processor.settings import Settings
from processor.stream.preflight import StartupError, check_port, quiet_kafka_client, wait_for_kafka
from processor.stream.topics import TopicLayoutError, ensure_topics

log = logging.getLogger(__name__)

PATH = "/v1/events"
# How often the webhook checks that Kafka answers (`/ready`), and how long it waits.
KAFKA_CHECK_INTERVAL = 2.0
KAFKA_CHECK_TIMEOUT = 3.0


@dataclass
class Item:
    """One event of a request: its bytes and what became of it."""

    index: int
    raw: bytes
    event: AnyEvent | None = None
    rejection: Rejection | None = None
    topic: str | None = None


def event_id_of(raw: bytes) -> str | None:
    """The event_id of possibly broken bytes, for the response (best effort)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, dict) and isinstance(document.get("event_id"), str):
        return str(document["event_id"])
    return None


class WebhookMetrics:
    """The webhook's own registry: requests, events and its dead letters, and the stock
    process collectors (no `_created` series, as the worker)."""

    def __init__(self) -> None:
        self.registry = new_registry()
        self.requests = counter(f.WEBHOOK_REQUESTS, self.registry)
        self.events = counter(f.WEBHOOK_EVENTS, self.registry)
        self.deadletters = counter(f.WEBHOOK_DEADLETTERS, self.registry)
        self.duration = histogram(
            f.WEBHOOK_REQUEST_DURATION_SECONDS, f.WEBHOOK_DURATION_BUCKETS, self.registry
        )
        for outcome in ("accepted", "rejected"):
            self.events.labels(outcome)
        for reason in DEADLETTER_REASONS:
            self.deadletters.labels(reason)


class Webhook:
    """The aiohttp application and its Kafka producer."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        if not settings.webhook_secrets:
            raise ValueError("SOCIALCARE_WEBHOOK_SECRET is not set: the webhook needs a secret")
        self.settings = settings
        self.clock = clock
        self.metrics = WebhookMetrics()
        self.topics = {event_type: topic for topic, event_type in settings.input_topics.items()}
        self.producer: AIOKafkaProducer | None = None
        # Kafka answered the last check (`/ready`); while it does not, requests get 503 at once.
        self.kafka_reachable = False
        self._kafka_check: asyncio.Task[None] | None = None
        # Signed requests whose body is being read: not yet authenticated, so capped.
        self.unverified = 0
        self.app = web.Application(
            # Bodies are read as sent: decompressed by `webhook_body`, only for senders known
            # before the body, in bounded steps.
            handler_args={
                "auto_decompress": False,
                # A connection that has not sent a whole request head by then is closed.
                "keepalive_timeout": settings.webhook_read_timeout_seconds,
            },
        )  # fmt: skip
        self.app.router.add_post(PATH, self.receive)
        self.app.router.add_get("/metrics", self.metrics_page)
        self.app.router.add_get("/ready", self.ready)
        self.app.on_startup.append(self._start)
        self.app.on_cleanup.append(self._stop)

    async def _start(self, _: web.Application) -> None:
        timeout_ms = int(self.settings.webhook_publish_timeout_seconds * 1000)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=2,
            max_request_size=max(1_048_576, 2 * self.settings.max_event_bytes),
            request_timeout_ms=timeout_ms,
        )
        await self.producer.start()
        self.kafka_reachable = True
        self._kafka_check = asyncio.create_task(self._check_kafka())

    async def _stop(self, _: web.Application) -> None:
        if self._kafka_check is not None:
            self._kafka_check.cancel()
        if self.producer is not None:
            await self.producer.stop()

    async def _check_kafka(self) -> None:
        """Ask Kafka for its metadata every few seconds: `/ready` says whether it answers."""
        assert self.producer is not None
        client = self.producer.client
        while True:
            try:
                async with asyncio.timeout(KAFKA_CHECK_TIMEOUT):
                    await client.fetch_all_metadata()
                reachable = True
            except (TimeoutError, KafkaError, OSError):
                reachable = False
            if reachable != self.kafka_reachable:
                log.warning("Kafka %s", "reachable again" if reachable else "unreachable")
                self.kafka_reachable = reachable
            await asyncio.sleep(KAFKA_CHECK_INTERVAL)

    async def ready(self, _: web.Request) -> web.Response:
        ready = self.producer is not None and self.kafka_reachable
        return web.json_response({"ready": ready, "kafka_reachable": self.kafka_reachable},
                                 status=200 if ready else 503)  # fmt: skip

    async def metrics_page(self, _: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response

    async def receive(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        request_id = request_id_of(request.headers)
        try:
            response = await self._receive(request, request_id)
        except HttpProcessingError as exc:  # a malformed body framing (chunks, length)
            response = _error(400, request_id, f"malformed request body: {exc.message}")
        except Exception:  # a bug, not bad input: say so without a stack trace to the sender
            log.exception("webhook request %s failed", request_id)
            response = _error(500, request_id, "internal error; the events were not published")
        response.headers["X-Request-Id"] = request_id
        self.metrics.requests.labels(str(response.status)).inc()
        self.metrics.duration.observe(time.perf_counter() - started)
        return response

    async def _receive(self, request: web.Request, request_id: str) -> web.Response:
        settings = self.settings
        limit = settings.webhook_max_body_bytes
        try:
            credentials = authenticate(
                request.headers, settings.webhook_secrets, self.clock(),
                settings.webhook_signature_tolerance_seconds,
            )  # fmt: skip
        except AuthError as exc:
            return _error(401, request_id, str(exc), WWW_Authenticate="Bearer")
        content_type = request.content_type.lower()
        if content_type not in JSON_TYPES and content_type not in JSON_LINES_TYPES:
            return _error(
                415, request_id,
                f"unsupported Content-Type {content_type!r}: send application/json "
                "(an event or an array of events) or application/x-ndjson (JSON lines)",
            )  # fmt: skip
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        refusal = encoding_refusal(encoding, credentials)
        if refusal is None and not self.kafka_reachable:
            refusal = Refusal(503, "Kafka is unreachable; retry later")
        if refusal is None and not credentials.verified:
            if request.content_length is not None and request.content_length > limit:
                refusal = Refusal(413, f"body of {request.content_length} bytes; the limit is "
                                       f"{limit} (SOCIALCARE_WEBHOOK_MAX_BODY_BYTES)")  # fmt: skip
            elif self.unverified >= settings.webhook_max_unverified_requests:
                refusal = Refusal(503, "too many signed requests in flight; retry in a second")
        if refusal is not None:
            return _refused(refusal, request_id)
        if not credentials.verified:
            self.unverified += 1
        try:
            body = await read_body(
                request.content.iter_chunked(65536), credentials, limit,
                settings.webhook_read_timeout_seconds,
            )  # fmt: skip
            if isinstance(body, bytes):  # a refused body was not read whole: nothing to check
                credentials.verify()
        except AuthError as exc:
            return _error(401, request_id, str(exc), WWW_Authenticate="Bearer")
        finally:
            if not credentials.verified:
                self.unverified -= 1
        if not isinstance(body, Refusal | Oversized):
            body = decompress(body, encoding, limit)
        if isinstance(body, Refusal):
            if body.status == 400:  # authenticated, not decodable: kept like any bad body
                return await self._whole_body_rejected(
                    request_id, b"", Rejection("invalid_json", body.message)
                )
            return _refused(body, request_id)
        if isinstance(body, Oversized):
            await self._oversized(request_id, body)
            return _error(
                413, request_id,
                f"body of {'more than ' if body.capped else ''}{body.size} bytes; the limit is "
                f"{limit} (SOCIALCARE_WEBHOOK_MAX_BODY_BYTES): send smaller batches",
            )  # fmt: skip
        return await self._events(request_id, body, content_type)

    async def _events(self, request_id: str, body: bytes, content_type: str) -> web.Response:
        if not body.strip():
            return _error(400, request_id, "empty body: send an event, an array or JSON lines")
        parts = split_body(body, content_type)
        if isinstance(parts, Rejection):
            return await self._whole_body_rejected(request_id, body, parts)
        if not parts:
            return _error(400, request_id, "empty batch: send at least one event")
        most = self.settings.webhook_max_events
        if len(parts) > most:
            too_many = Rejection(
                "oversized", f"{len(parts)} events in one request; the limit is {most} "
                "(SOCIALCARE_WEBHOOK_MAX_EVENTS)",
            )  # fmt: skip
            if not await self._dead_letter(request_id, [Item(0, body[:HEAD_BYTES],
                                                             rejection=too_many)]):  # fmt: skip
                return _error(503, request_id, "Kafka is unavailable; retry later")
            self.metrics.events.labels("rejected").inc()
            return _error(413, request_id, f"{too_many.detail}: send smaller batches")
        items = [self._check(index, raw) for index, raw in enumerate(parts)]
        if not await self._publish(request_id, items):
            return _error(503, request_id, "Kafka is unavailable; retry later (safe to re-send)")
        accepted = sum(1 for item in items if item.rejection is None)
        self.metrics.events.labels("accepted").inc(accepted)
        self.metrics.events.labels("rejected").inc(len(items) - accepted)
        status = 200 if accepted == len(items) else 207 if accepted else 422
        report = _report(request_id, items, self.settings.webhook_max_listed_rejections)
        return web.json_response(report, status=status)

    async def _whole_body_rejected(
        self, request_id: str, body: bytes, rejection: Rejection
    ) -> web.Response:
        """A body that is not JSON as a whole: one dead letter, 400."""
        item = Item(0, body, rejection=rejection)
        if not await self._dead_letter(request_id, [item]):
            return _error(503, request_id, "Kafka is unavailable; retry later")
        self.metrics.events.labels("rejected").inc()
        return web.json_response(_report(request_id, [item], 1), status=400)

    def _check(self, index: int, raw: bytes) -> Item:
        item = Item(index, raw)
        decoded = decode_event(raw, None, self.settings.max_event_bytes)
        if isinstance(decoded, Rejection):
            if decoded.event_id is None and decoded.reason != "oversized":
                decoded = dataclasses.replace(decoded, event_id=event_id_of(raw))
            item.rejection = decoded
            return item
        item.rejection = time_bounds_rejection(decoded, self.settings, self.clock())
        item.event = decoded
        item.topic = self.topics.get(decoded.type)
        if item.rejection is None and item.topic is None:
            item.rejection = Rejection(
                "wrong_topic", f"no input topic is configured for {decoded.type} events",
                decoded.event_id,
            )  # fmt: skip
        return item

    async def _publish(self, request_id: str, items: list[Item]) -> bool:
        """Send the accepted events and the dead letters; False when Kafka refused."""
        assert self.producer is not None
        try:
            futures = []
            for item in items:
                if item.rejection is None and item.event is not None and item.topic:
                    key = event_key(item.event)
                    futures.append(await self.producer.send(item.topic, item.raw, key=key))
            async with asyncio.timeout(self.settings.webhook_publish_timeout_seconds):
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            log.warning("webhook request %s: Kafka refused the events: %r", request_id, exc)
            return False
        return await self._dead_letter(
            request_id, [item for item in items if item.rejection is not None]
        )

    async def _dead_letter(self, request_id: str, items: list[Item]) -> bool:
        assert self.producer is not None
        try:
            futures = []
            for item in items:
                assert item.rejection is not None
                futures.append(await self.producer.send(
                    self.settings.topic_deadletters,
                    self._letter(request_id, item, item.rejection, item.raw),
                    key=_key_of(item.raw),
                ))  # fmt: skip
            async with asyncio.timeout(self.settings.webhook_publish_timeout_seconds):
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            log.warning("webhook request %s: dead letters not written: %r", request_id, exc)
            return False
        reasons: Counter[str] = Counter()
        for item in items:
            assert item.rejection is not None
            reasons[item.rejection.reason] += 1
            log.debug(
                "webhook dead letter %s (request %s, event %d): %s",
                item.rejection.reason, request_id, item.index, item.rejection.detail,
            )  # fmt: skip
        for reason, count in reasons.items():
            self.metrics.deadletters.labels(reason).inc(count)
        if reasons:
            # One line per request, however many events it held.
            summary = ", ".join(f"{reason} {count}" for reason, count in reasons.items())
            log.warning("webhook request %s: %d dead letters (%s)", request_id, len(items), summary)
        return True

    def _letter(
        self, request_id: str, item: Item, rejection: Rejection, value: bytes,
        **extra: Any,
    ) -> bytes:  # fmt: skip
        topic = item.topic or self._intended_topic(item.raw)
        return envelope(
            rejection, topic=topic, partition=None, offset=None, key=_key_of(item.raw),
            value=value, now=self.clock(),
            extra={"source": "webhook", "request_id": request_id, "item_index": item.index,
                   **extra},
        )  # fmt: skip

    def _intended_topic(self, raw: bytes) -> str:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return "webhook"
        if isinstance(document, dict) and isinstance(document.get("type"), str):
            return self.topics.get(document["type"], "webhook")
        return "webhook"

    async def _oversized(self, request_id: str, body: Oversized) -> None:
        size = f"{'more than ' if body.capped else ''}{body.size}"
        head = body.head[:HEAD_BYTES]
        rejection = Rejection(
            "oversized",
            f"request body of {size} bytes; the limit is {self.settings.webhook_max_body_bytes} "
            f"(only its first {len(head)} bytes are kept)",
        )
        item = Item(0, head, rejection=rejection)
        # Only the head was kept while reading: say how big the whole was.
        letter = self._letter(
            request_id, item, rejection, head,
            original_size=body.size, original_sha256=body.sha256, truncated=True,
            size_is_lower_bound=body.capped,
        )  # fmt: skip
        assert self.producer is not None
        try:
            async with asyncio.timeout(self.settings.webhook_publish_timeout_seconds):
                await (await self.producer.send(self.settings.topic_deadletters, letter))
        except (KafkaError, TimeoutError) as exc:
            log.warning("webhook request %s: dead letter not written: %r", request_id, exc)
            return
        self.metrics.deadletters.labels("oversized").inc()
        self.metrics.events.labels("rejected").inc()


def _key_of(raw: bytes) -> bytes | None:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return message_key(document) if isinstance(document, dict) else None


def _report(request_id: str, items: list[Item], listed_rejections: int) -> dict[str, Any]:
    """Every accepted event, the first `listed_rejections` rejected ones, and the counts."""
    results: list[dict[str, Any]] = []
    rejected = 0
    for item in items:
        if item.rejection is None and item.event is not None:
            results.append({"index": item.index, "event_id": item.event.event_id,
                            "status": "accepted", "topic": item.topic})  # fmt: skip
            continue
        assert item.rejection is not None
        rejected += 1
        if rejected <= listed_rejections:
            results.append({"index": item.index, "event_id": item.rejection.event_id,
                            "status": "rejected", "reason": item.rejection.reason,
                            "detail": item.rejection.detail})  # fmt: skip
    return {
        "request_id": request_id,
        "accepted": len(items) - rejected,
        "rejected": rejected,
        "unlisted_rejections": max(0, rejected - listed_rejections),
        "results": results,
    }


def _refused(refusal: Refusal, request_id: str) -> web.Response:
    headers = {"Retry_After": "1"} if refusal.status == 503 else {}
    return _error(refusal.status, request_id, refusal.message, **headers)


def _error(status: int, request_id: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"request_id": request_id, "error": message},
        status=status,
        headers={name.replace("_", "-"): value for name, value in headers.items()},
    )


def run_webhook(settings: Settings) -> int:
    """Check the port and Kafka, create the topics if needed, then serve until SIGINT or
    SIGTERM; the exit status (2, with one line, for what a user can get wrong at start)."""
    debug = settings.log_level.lower() == "debug"

    async def prepare() -> None:
        with quiet_kafka_client():
            await wait_for_kafka(settings.kafka_bootstrap_servers, settings.startup_timeout_seconds)
            await ensure_topics(settings, settings.startup_timeout_seconds)

    try:
        check_port(settings.webhook_bind, settings.webhook_port, "SOCIALCARE_WEBHOOK_PORT")
        asyncio.run(prepare())
    except (StartupError, TopicLayoutError) as exc:
        log.error("%s", exc, exc_info=debug)
        return 2
    except (OSError, KafkaError) as exc:
        log.error(
            "Kafka failed at start (%s: %s): check KAFKA_BOOTSTRAP_SERVERS (%s)",
            type(exc).__name__, exc, settings.kafka_bootstrap_servers, exc_info=debug,
        )  # fmt: skip
        return 2
    webhook = Webhook(settings)
    log.info("webhook on http://%s:%d%s", settings.webhook_bind, settings.webhook_port, PATH)
    web.run_app(
        webhook.app,
        host=settings.webhook_bind,
        port=settings.webhook_port,
        print=None,
        access_log=None,
    )
    return 0
