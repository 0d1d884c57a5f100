"""Fuzzing the webhook's parsing and the event decoder (hypothesis): whatever a sender
sends, they answer with a value (an event, a rejection, a refusal), never an exception.

Bounded for CI: a thousand examples per property, seconds in all. Set
HYPOTHESIS_PROFILE=long for a longer hunt (`pytest tests/unit/ingest/test_fuzz.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.domain.events import AnyEvent, Rejection, decode_event
from processor.ingest.webhook_auth import AuthError, authenticate, sign
from processor.ingest.webhook_body import (
    JSON_LINES_TYPES,
    Oversized,
    Refusal,
    decompress,
    read_body,
    request_id_of,
    split_body,
)

settings.register_profile("ci", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SECRET = "s" * 32
TYPES = ("mention", "reply", "redirection", "survey", "contact_count", "other", "")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
FIELDS = ("event_id", "type", "occurred_at", "brand", "channel", "conversation_id", "author_id",
          "team", "score", "kind", "count", "sentiment", "customer_value", "to_channel",
          "priority", "resolves", "automated", "schema_version", "interval_seconds")  # fmt: skip
# Near-valid events: the contract's field names with values of any shape, plus real ones.
FIELD_VALUES = st.one_of(
    JSON,
    st.sampled_from(
        [
            "2026-11-30T10:00:00Z",
            "2026-02-30T10:00:00Z",
            "twitter",
            "Acme",
            "csat",
            "nps",
            "dm",
            "urgent",
            "x" * 300,
        ]
    ),
    st.sampled_from(TYPES),
    st.integers(-5, 12),
    st.floats(-2, 2),
)
EVENTS = st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=len(FIELDS))


@given(st.binary(max_size=400))
def test_decoding_any_bytes_gives_an_event_or_a_rejection(raw: bytes) -> None:
    for expected in (None, "mention"):
        assert isinstance(decode_event(raw, expected, 1 << 20), AnyEvent | Rejection)


@given(EVENTS)
def test_decoding_near_valid_events_gives_an_event_or_a_rejection(doc: dict[str, Any]) -> None:
    result = decode_event(json.dumps(doc).encode(), None, 1 << 20)  # ints past 64 bits too
    assert isinstance(result, AnyEvent | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in ("schema_violation", "invalid_json"), result
    else:
        assert result.event_id == doc["event_id"]


@given(st.binary(max_size=600), st.sampled_from(["application/json", *JSON_LINES_TYPES, ""]))
def test_splitting_any_body_gives_parts_or_one_rejection(body: bytes, content_type: str) -> None:
    parts = split_body(body, content_type)
    assert isinstance(parts, Rejection) or all(isinstance(part, bytes) for part in parts)


@given(st.dictionaries(st.sampled_from(["Authorization", "X-Socialcare-Signature", "Other"]),
                       st.text(max_size=200), max_size=3))  # fmt: skip
def test_any_credentials_header_is_accepted_or_refused_never_an_error(
    headers: dict[str, str],
) -> None:
    with contextlib.suppress(AuthError):
        credentials = authenticate(headers, [SECRET], time.time(), 300)
        credentials.update(b"body")
        credentials.verify()


@given(st.integers(0, 10**15), st.text(alphabet="0123456789abcdefABCDEF,=tv1 ", max_size=160))
def test_signature_headers_near_the_real_shape(timestamp: int, tail: str) -> None:
    good = sign(SECRET, timestamp, b"x")
    for header in (good + tail, tail + good, good.replace("t=", "t=" + tail, 1)):
        with contextlib.suppress(AuthError):
            authenticate({"X-Socialcare-Signature": header}, [SECRET], float(timestamp), 300)


@given(st.binary(max_size=2000), st.sampled_from(["gzip", "deflate", "x-gzip", "identity", ""]))
def test_decompressing_any_bytes_gives_a_body_or_a_refusal(body: bytes, encoding: str) -> None:
    for candidate in (body, gzip.compress(body)[: len(body) % 40 + 10], gzip.compress(body)):
        got = decompress(candidate, encoding, 1024)
        assert isinstance(got, bytes | Oversized | Refusal)
        if isinstance(got, bytes):
            assert len(got) <= 1024


@given(st.lists(st.binary(max_size=300), max_size=8), st.booleans())
@settings(max_examples=100)
def test_reading_any_chunks_gives_a_body_or_a_refusal(chunks: list[bytes], signed: bool) -> None:
    headers = ({"X-Socialcare-Signature": sign(SECRET, int(time.time()), b"".join(chunks))}
               if signed else {"Authorization": f"Bearer {SECRET}"})  # fmt: skip
    credentials = authenticate(headers, [SECRET], time.time(), 300)

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    got = asyncio.run(read_body(source(), credentials, 512, 5))
    assert isinstance(got, bytes | Oversized | Refusal)
    if isinstance(got, bytes):
        assert got == b"".join(chunks)
        credentials.verify()


@given(st.text(max_size=300))
def test_request_ids_are_always_plain_tokens(given_id: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", request_id_of({"X-Request-Id": given_id}))
