"""Dead-letter envelopes: the original bytes, where they came from and why they failed.

The envelope follows `schemas/deadletter.schema.json`; `socialcare deadletters` (issue 4)
reads them back.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from processor.events import Rejection


def envelope(
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    now: float,
) -> bytes:
    """JSON of one dead letter; keeps the message bytes intact (base64) for a later replay."""
    document: dict[str, Any] = {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "source_key": base64.b64encode(key).decode() if key is not None else None,
        "original_value_b64": base64.b64encode(value or b"").decode(),
        "event_id": rejection.event_id,
        "dead_lettered_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
    }
    return orjson.dumps(document)


def original_value(document: dict[str, Any]) -> bytes:
    return base64.b64decode(document["original_value_b64"])
