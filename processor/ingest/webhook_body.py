"""Reading a webhook request's body under limits, and splitting it into events.

Every limit holds while the body streams in, so a sender cannot make the webhook hold or
work on more than it allows: the body limit (a signed request is refused as soon as it
passes it, an authenticated one is read on, head kept, up to a hard cap, for its dead
letter), a read timeout, and decompression (for senders authenticated before the body)
in bounded steps that stop at the limit. What goes wrong is a `Refusal` (a status and a
reason), never an exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import orjson

from processor.domain.events import Rejection
from processor.ingest.webhook_auth import Credentials

JSON_LINES_TYPES = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/json-lines", "application/jsonlines"}
)
JSON_TYPES = frozenset({"application/json", "text/plain", "application/octet-stream", ""})
COMPRESSED = frozenset({"gzip", "x-gzip", "deflate"})
# Past this many times the limit, an authenticated sender is not a confused client: stop.
HARD_LIMIT_FACTOR = 16
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CHUNK = 65536


def request_id_of(headers: Mapping[str, str]) -> str:
    """The sender's `X-Request-Id` when it is a plain token of at most 128 characters,
    else a fresh one: it is echoed in responses, dead letters and logs."""
    given = headers.get("X-Request-Id")
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Refusal:
    """A request refused while reading its body: HTTP status and why."""

    status: int
    message: str


@dataclass(frozen=True)
class Oversized:
    """An authenticated body over the limit: its head, size (a lower bound when `capped`)
    and hash (of what was read), for the dead letter."""

    head: bytes
    size: int
    sha256: str
    capped: bool


def encoding_refusal(encoding: str, credentials: Credentials) -> Refusal | None:
    """Compressed bodies only from senders known before the body (a bearer token): a
    signature can only be checked over the body, so decompressing first would let anyone
    make the webhook inflate megabytes from a few kilobytes."""
    if encoding in ("", "identity"):
        return None
    if encoding not in COMPRESSED:
        return Refusal(
            415, f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or none"
        )
    if not credentials.verified:
        return Refusal(
            415, "compressed bodies need Authorization: Bearer (a signature is checked over "
            "the uncompressed body): send it uncompressed or use the bearer token",
        )  # fmt: skip
    return None


async def read_body(
    chunks: AsyncIterator[bytes],
    credentials: Credentials,
    limit: int,
    timeout: float,
) -> bytes | Oversized | Refusal:
    """The body, fed to the signature MACs as it arrives.

    A signed (not yet verified) body stops at the limit: 413 without reading on. An
    authenticated one over the limit is read on to the hard cap, keeping its head only.
    """
    head = bytearray()
    size = 0
    whole = hashlib.sha256()
    hard_limit = limit * HARD_LIMIT_FACTOR if credentials.verified else limit
    try:
        async with asyncio.timeout(timeout):
            async for chunk in chunks:
                size += len(chunk)
                if size > hard_limit:
                    if not credentials.verified:
                        return Refusal(413, f"body over {limit} bytes (the limit)")
                    return Oversized(bytes(head), size, whole.hexdigest(), capped=True)
                credentials.update(chunk)
                whole.update(chunk)
                if len(head) <= limit:
                    head += chunk[: limit + 1 - len(head)]
    except TimeoutError:
        return Refusal(408, f"body not received within {timeout:g}s")
    if size > limit:
        return Oversized(bytes(head), size, whole.hexdigest(), capped=False)
    return bytes(head)


def decompress(body: bytes, encoding: str, limit: int) -> bytes | Oversized | Refusal:
    """Inflate a gzip or deflate body in bounded steps, stopping past the limit."""
    if encoding in ("", "identity"):
        return body
    # gzip or zlib, told apart by the header (47); a raw deflate stream (-15) as a fallback.
    for wbits in (47, -15) if encoding == "deflate" else (47,):
        inflater = zlib.decompressobj(wbits)
        out = bytearray()
        try:
            pending = body
            while pending:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    head = bytes(out)
                    return Oversized(head, len(head), hashlib.sha256(body).hexdigest(), True)
                pending = inflater.unconsumed_tail
            out += inflater.flush()
        except zlib.error as exc:
            last_error = exc
            continue
        if not inflater.eof:
            last_error = zlib.error("truncated stream")
            continue
        if len(out) > limit:
            return Oversized(bytes(out[: limit + 1]), len(out), hashlib.sha256(body).hexdigest(),
                             True)  # fmt: skip
        return bytes(out)
    return Refusal(400, f"body is not valid {encoding} ({last_error})")


def split_body(body: bytes, content_type: str) -> list[bytes] | Rejection:
    """The events of a body, as bytes each; a Rejection when the body is not JSON at all.

    JSON (an event or an array of events) is judged whole: a broken document is one
    rejection, however many lines it spans. JSON lines (their content types, or lines sent
    as JSON whose first line is an event on its own) stand alone: a broken line is
    rejected, the others go on.
    """
    if content_type in JSON_LINES_TYPES:
        return _lines(body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        lines = _lines(body)
        if len(lines) > 1 and _is_object(lines[0]):
            return lines  # JSON lines sent as application/json: read them one by one
        return Rejection("invalid_json", f"body is not valid UTF-8 JSON: {exc}")
    if isinstance(document, list):
        return [orjson.dumps(element) for element in document]
    return [body]


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _lines(body: bytes) -> list[bytes]:
    return [line.strip() for line in body.split(b"\n") if line.strip()]
