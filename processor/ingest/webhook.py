"""HTTP ingest for listening platforms: `POST /v1/events`, authenticated, validated, published.

A service of its own (`socialcare webhook`), not a page of the worker: it scales and
restarts independently of partition ownership, and a rebalance never drops a delivery.

Request
  - Body: one event (a JSON object), a batch (a JSON array), or JSON lines
    (`Content-Type: application/x-ndjson` or `application/jsonl`; a body that is not one
    JSON document but has several lines is read as JSON lines too). With JSON lines each
    line stands alone: a broken line is rejected, the others go on.
  - Authentication, either of:
    `Authorization: Bearer <secret>`, or
    `X-Socialcare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`
    (the scheme listening platforms and Stripe use; several `v1=` are allowed). A signature
    whose `t` is more than SOCIALCARE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS from the clock
    is refused, so a captured request cannot be replayed later. Any of the secrets in
    SOCIALCARE_WEBHOOK_SECRET (comma-separated) verifies.
  - Limit: SOCIALCARE_WEBHOOK_MAX_BODY_BYTES per request, SOCIALCARE_MAX_EVENT_BYTES per
    event.

Response: JSON `{"request_id", "accepted", "rejected", "results": [...]}` with one result per
event, in order: `{"index", "event_id", "status": "accepted", "topic"}` or
`{"index", "event_id", "status": "rejected", "reason", "detail"}`. Status 200 when all were
accepted, 207 when some were, 422 when none was; 400 for a body that is not JSON, 401 for
missing or wrong credentials (nothing is published), 413 over the size limit, 415 for an
unsupported content type, 503 when Kafka cannot take the events (retry: re-sent events are
counted once, by event_id). Never a 500 for bad input.

Every rejected event of an authenticated request is kept in the dead-letter topic (reason,
detail, original bytes, `source: "webhook"`, the request id) and counted in
`socialcare_deadletters_total{reason}`. Accepted events go to their topic keyed by
conversation (contact counts by brand); the worker checks the rest (duplicates, lateness,
order) and dead-letters what fails there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from processor.domain.admission import time_bounds_rejection
from processor.domain.deadletters import DEADLETTER_REASONS, HEAD_BYTES, envelope
from processor.domain.events import AnyEvent, Rejection, decode_event
from processor.errors import SocialcareError
from processor.ingest.producer import event_key, message_key
from processor.metrics import families as f
from processor.metrics.health import counter, histogram
from processor.settings import Settings
from processor.stream.topics import TopicLayoutError, ensure_topics

log = logging.getLogger(__name__)

PATH = "/v1/events"
SIGNATURE_HEADER = "X-Socialcare-Signature"
JSON_LINES_TYPES = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/json-lines", "application/jsonlines"}
)
JSON_TYPES = frozenset({"application/json", "text/plain", "application/octet-stream", ""})
# Past this many times the limit, the sender is not a confused client: stop reading.
HARD_LIMIT_FACTOR = 16


class AuthError(SocialcareError):
    """Missing or wrong credentials: 401, nothing published."""


@dataclass
class Signature:
    """A parsed `X-Socialcare-Signature` header."""

    timestamp: int
    digests: list[str]


def parse_signature(header: str) -> Signature:
    """`t=<unix>,v1=<hex>[,v1=<hex>...]`; raises AuthError when malformed."""
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            digests.append(value.strip().lower())
    if timestamp is None or not digests:
        raise AuthError(f"{SIGNATURE_HEADER} must be t=<unix seconds>,v1=<hex HMAC-SHA256>")
    return Signature(timestamp, digests)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Socialcare-Signature` value a sender computes (used by tests and clients)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass
class Credentials:
    """What a request presented; signature MACs are fed the body as it streams in."""

    signature: Signature | None = None
    macs: list[hmac.HMAC] = field(default_factory=list)

    def update(self, chunk: bytes) -> None:
        for mac in self.macs:
            mac.update(chunk)

    def verify(self) -> None:
        if self.signature is None:
            return  # bearer: already checked
        computed = {mac.hexdigest() for mac in self.macs}
        if not any(
            hmac.compare_digest(digest, candidate)
            for digest in self.signature.digests
            for candidate in computed
        ):
            raise AuthError("signature does not match the body")


def authenticate(
    headers: dict[str, str] | Any, secrets: list[str], now: float, tolerance: float
) -> Credentials:
    """Check the headers; a signature is completed by `Credentials.verify` after the body."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization must be 'Bearer <secret>'")
        if not any(hmac.compare_digest(token.strip(), secret) for secret in secrets):
            raise AuthError("wrong bearer token")
        return Credentials()
    header = headers.get(SIGNATURE_HEADER)
    if header is None:
        raise AuthError(f"missing credentials: Authorization: Bearer or {SIGNATURE_HEADER}")
    signature = parse_signature(header)
    if abs(now - signature.timestamp) > tolerance:
        raise AuthError(
            f"signature timestamp {signature.timestamp} is {abs(now - signature.timestamp):.0f}s "
            f"from the server clock; tolerance {tolerance:g}s (replayed or clock skew)"
        )
    prefix = f"{signature.timestamp}.".encode()
    macs = [hmac.new(secret.encode(), prefix, hashlib.sha256) for secret in secrets]
    return Credentials(signature, macs)


@dataclass
class Item:
    """One event of a request: its bytes and what became of it."""

    index: int
    raw: bytes
    event: AnyEvent | None = None
    rejection: Rejection | None = None
    topic: str | None = None


def split_body(body: bytes, content_type: str) -> list[bytes] | Rejection:
    """The events of a body, as bytes each; a Rejection when the body is not JSON at all."""
    if content_type in JSON_LINES_TYPES:
        return _lines(body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        lines = _lines(body)
        if len(lines) > 1:
            return lines  # JSON lines sent as application/json: read them one by one
        return Rejection("invalid_json", f"body is not valid UTF-8 JSON: {exc}")
    if isinstance(document, list):
        return [orjson.dumps(element) for element in document]
    return [body]


def _lines(body: bytes) -> list[bytes]:
    return [line.strip() for line in body.split(b"\n") if line.strip()]


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
    """The webhook's own registry: requests, events and its dead letters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.app = web.Application()
        self.app.router.add_post(PATH, self.receive)
        self.app.router.add_get("/metrics", self.metrics_page)
        self.app.router.add_get("/ready", self.ready)
        self.app.on_startup.append(self._start)
        self.app.on_cleanup.append(self._stop)

    async def _start(self, _: web.Application) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=2,
            max_request_size=max(1_048_576, 2 * self.settings.max_event_bytes),
        )
        await self.producer.start()

    async def _stop(self, _: web.Application) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def ready(self, _: web.Request) -> web.Response:
        ready = self.producer is not None
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def metrics_page(self, _: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response

    async def receive(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        try:
            response = await self._receive(request, request_id)
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
        declared = request.content_length
        if declared is not None and declared > limit * HARD_LIMIT_FACTOR:
            return _error(413, request_id, f"body of {declared} bytes; the limit is {limit}")
        head = bytearray()
        size = 0
        whole = hashlib.sha256()
        async for chunk in request.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit * HARD_LIMIT_FACTOR:
                return _error(413, request_id, f"body over {limit} bytes (the limit)")
            credentials.update(chunk)
            whole.update(chunk)
            if len(head) <= limit:
                head += chunk[: limit + 1 - len(head)]
        try:
            credentials.verify()
        except AuthError as exc:
            return _error(401, request_id, str(exc), WWW_Authenticate="Bearer")
        if size > limit:
            head_bytes = bytes(head[:HEAD_BYTES])
            await self._oversized(request_id, head_bytes, size, whole.hexdigest())
            return _error(
                413, request_id,
                f"body of {size} bytes; the limit is {limit} "
                "(SOCIALCARE_WEBHOOK_MAX_BODY_BYTES): send smaller batches",
            )  # fmt: skip
        body = bytes(head)
        if not body.strip():
            return _error(400, request_id, "empty body: send an event, an array or JSON lines")
        parts = split_body(body, content_type)
        if isinstance(parts, Rejection):
            item = Item(0, body, rejection=parts)
            if not await self._dead_letter(request_id, [item]):
                return _error(503, request_id, "Kafka is unavailable; retry later")
            self.metrics.events.labels("rejected").inc()
            return web.json_response(_report(request_id, [item]), status=400)
        items = [self._check(index, raw) for index, raw in enumerate(parts)]
        if not items:
            return _error(400, request_id, "empty batch: send at least one event")
        if not await self._publish(request_id, items):
            return _error(503, request_id, "Kafka is unavailable; retry later (safe to re-send)")
        accepted = sum(1 for item in items if item.rejection is None)
        self.metrics.events.labels("accepted").inc(accepted)
        self.metrics.events.labels("rejected").inc(len(items) - accepted)
        status = 200 if accepted == len(items) else 207 if accepted else 422
        return web.json_response(_report(request_id, items), status=status)

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
            await asyncio.gather(*futures)
        except KafkaError as exc:
            log.warning("webhook request %s: Kafka refused the events: %s", request_id, exc)
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
            await asyncio.gather(*futures)
        except KafkaError as exc:
            log.warning("webhook request %s: dead letters not written: %s", request_id, exc)
            return False
        for item in items:
            assert item.rejection is not None
            self.metrics.deadletters.labels(item.rejection.reason).inc()
            log.warning(
                "webhook dead letter %s (request %s, event %d): %s",
                item.rejection.reason, request_id, item.index, item.rejection.detail,
            )  # fmt: skip
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

    async def _oversized(self, request_id: str, head: bytes, size: int, sha256: str) -> None:
        rejection = Rejection(
            "oversized",
            f"request body of {size} bytes; the limit is {self.settings.webhook_max_body_bytes} "
            f"(only its first {len(head)} bytes are kept)",
        )
        item = Item(0, head, rejection=rejection)
        # Only the head was kept while reading: say how big the whole was.
        letter = self._letter(
            request_id, item, rejection, head,
            original_size=size, original_sha256=sha256, truncated=True,
        )  # fmt: skip
        assert self.producer is not None
        try:
            await (await self.producer.send(self.settings.topic_deadletters, letter))
        except KafkaError as exc:
            log.warning("webhook request %s: dead letter not written: %s", request_id, exc)
            return
        self.metrics.deadletters.labels("oversized").inc()
        self.metrics.events.labels("rejected").inc()


def _key_of(raw: bytes) -> bytes | None:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return message_key(document) if isinstance(document, dict) else None


def _report(request_id: str, items: list[Item]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for item in items:
        if item.rejection is None and item.event is not None:
            results.append({"index": item.index, "event_id": item.event.event_id,
                            "status": "accepted", "topic": item.topic})  # fmt: skip
        else:
            assert item.rejection is not None
            results.append({"index": item.index, "event_id": item.rejection.event_id,
                            "status": "rejected", "reason": item.rejection.reason,
                            "detail": item.rejection.detail})  # fmt: skip
    accepted = sum(1 for result in results if result["status"] == "accepted")
    return {
        "request_id": request_id,
        "accepted": accepted,
        "rejected": len(results) - accepted,
        "results": results,
    }


def _error(status: int, request_id: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"request_id": request_id, "error": message},
        status=status,
        headers={name.replace("_", "-"): value for name, value in headers.items()},
    )


def run_webhook(settings: Settings) -> int:
    """Create the topics if needed, then serve until SIGINT/SIGTERM; the exit status."""
    try:
        asyncio.run(ensure_topics(settings))
    except TopicLayoutError as exc:
        log.error("%s", exc)
        return 2
    except (OSError, KafkaError) as exc:
        log.error("cannot reach Kafka (%s): check KAFKA_BOOTSTRAP_SERVERS", exc)
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
