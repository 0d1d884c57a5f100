"""Dead-letter envelopes: the original bytes, where they came from and why they failed.

The envelope follows `schemas/deadletter.schema.json`; the worker and the webhook write it,
`processor.tools.deadletters` reads it back and sends the originals again after a fix.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from processor.domain.events import Rejection

# Every reason a dead letter can carry (the bounded values of the `reason` label).
DEADLETTER_REASONS = (
    "invalid_json",
    "schema_violation",
    "wrong_topic",
    "oversized",
    "before_retention_horizon",
    "future_timestamp",
    "too_late",
    "reply_before_mention",
    "conflicting_event_id",
    "processing_error",
)

# An oversized input keeps its head only (with its size and hash): enough to see what it
# was, and the dead letter itself stays under Kafka's default 1 MB record limit.
HEAD_BYTES = 64 * 1024


def envelope(
    rejection: Rejection,
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    now: float,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """JSON of one dead letter; keeps the message bytes intact (base64) for a later replay.

    `partition` and `offset` are None for input that never was a Kafka record (the webhook);
    `extra` adds fields such as `source` and `request_id`. Values over HEAD_BYTES of an
    `oversized` rejection keep their head only (`truncated`, `original_size`,
    `original_sha256`).
    """
    value = value or b""
    truncated = rejection.reason == "oversized" and len(value) > HEAD_BYTES
    document: dict[str, Any] = {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "source_key": base64.b64encode(key).decode() if key is not None else None,
        "original_value_b64": base64.b64encode(value[:HEAD_BYTES] if truncated else value).decode(),
        "event_id": rejection.event_id,
        "dead_lettered_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "source": "topic",
    }
    if truncated:
        document["truncated"] = True
        document["original_size"] = len(value)
        document["original_sha256"] = hashlib.sha256(value).hexdigest()
    if extra:
        document.update(extra)
    return orjson.dumps(document)


def original_value(document: dict[str, Any]) -> bytes:
    return base64.b64decode(document["original_value_b64"])
