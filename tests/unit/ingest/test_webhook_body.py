"""Reading a webhook body under its limits: streaming, signatures, decompression."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import zlib
from collections.abc import AsyncIterator

import pytest

from processor.ingest.webhook_auth import Credentials, authenticate, sign
from processor.ingest.webhook_body import (
    HARD_LIMIT_FACTOR,
    Oversized,
    Refusal,
    decompress,
    encoding_refusal,
    read_body,
    request_id_of,
)

SECRET = "s" * 32
NOW = 1_800_000_000.0
LIMIT = 4096


async def chunks_of(body: bytes, size: int = 1000, pause: float = 0.0) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        if pause:
            await asyncio.sleep(pause)
        yield body[start : start + size]


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET}"}


def signed(body: bytes) -> dict[str, str]:
    return {"X-Socialcare-Signature": sign(SECRET, int(NOW), body)}


def credentials(headers: dict[str, str]) -> Credentials:
    return authenticate(headers, [SECRET], NOW, tolerance=300)


class CountingChunks:
    """Chunks of a body, counting how many bytes the reader took."""

    def __init__(self, body: bytes) -> None:
        self.body, self.taken = body, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in chunks_of(self.body):
            self.taken += len(chunk)
            yield chunk


def test_a_body_within_the_limit_is_read_and_its_signature_checks() -> None:
    body = b'{"event_id": "e1"}' * 100
    got = asyncio.run(read_body(chunks_of(body), presented := credentials(signed(body)),
                                LIMIT, timeout=5))  # fmt: skip
    assert got == body
    presented.verify()


def test_a_signed_body_stops_being_read_at_the_limit() -> None:
    """Unauthenticated until the end: nothing past the limit is read or hashed."""
    body = b"x" * (LIMIT * 50)
    source = CountingChunks(body)
    got = asyncio.run(read_body(source.__aiter__(), credentials(signed(body)), LIMIT, 5))
    assert got == Refusal(413, f"body over {LIMIT} bytes (the limit)")
    assert source.taken <= LIMIT + 1000  # one chunk past the limit, not the 200 kB


def test_an_authenticated_oversized_body_keeps_its_head_up_to_the_hard_cap() -> None:
    body = bytes(range(256)) * (LIMIT // 256) * 3  # three times the limit
    got = asyncio.run(read_body(chunks_of(body), credentials(bearer()), LIMIT, 5))
    assert got == Oversized(body[: LIMIT + 1], len(body), hashlib.sha256(body).hexdigest(),
                            capped=False)  # fmt: skip
    huge = CountingChunks(b"y" * (LIMIT * HARD_LIMIT_FACTOR * 3))
    capped = asyncio.run(read_body(huge.__aiter__(), credentials(bearer()), LIMIT, 5))
    assert isinstance(capped, Oversized) and capped.capped
    assert capped.head == b"y" * (LIMIT + 1)
    assert LIMIT * HARD_LIMIT_FACTOR < capped.size <= LIMIT * HARD_LIMIT_FACTOR + 1000
    assert huge.taken == capped.size


def test_a_body_too_slow_is_refused_with_408() -> None:
    body = b"z" * 5000
    got = asyncio.run(read_body(chunks_of(body, 100, pause=0.05), credentials(bearer()),
                                LIMIT * 4, timeout=0.3))  # fmt: skip
    assert got == Refusal(408, "body not received within 0.3s")


def test_compressed_bodies_only_from_bearer_senders() -> None:
    body = b"{}"
    assert encoding_refusal("", credentials(signed(body))) is None
    assert encoding_refusal("identity", credentials(signed(body))) is None
    assert encoding_refusal("gzip", credentials(bearer())) is None
    refused = encoding_refusal("gzip", credentials(signed(body)))
    assert refused is not None and refused.status == 415 and "Bearer" in refused.message
    unknown = encoding_refusal("br", credentials(bearer()))
    assert unknown is not None and unknown.status == 415


def test_decompression_is_bounded_by_the_limit() -> None:
    document = b'[{"event_id": "e1"}]'
    assert decompress(gzip.compress(document), "gzip", LIMIT) == document
    assert decompress(zlib.compress(document), "deflate", LIMIT) == document
    raw_deflate = zlib.compressobj(wbits=-15)
    assert decompress(raw_deflate.compress(document) + raw_deflate.flush(), "deflate",
                      LIMIT) == document  # fmt: skip
    # A bomb: 64 MiB of zeros in about 64 kB; inflation stops just past the limit.
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    assert len(bomb) < 100_000
    got = decompress(bomb, "gzip", LIMIT)
    assert isinstance(got, Oversized) and got.capped
    assert got.head == b"\0" * (LIMIT + 1)


@pytest.mark.parametrize(
    "body",
    [
        b"\x1f\x8b\x08\x00garbage after a gzip header",
        b"not compressed at all",
        gzip.compress(b"[1, 2, 3]")[:-12],
    ],
    ids=["garbage-after-header", "not-gzip", "truncated"],
)
def test_broken_compressed_bodies_are_refused_400(body: bytes) -> None:
    got = decompress(body, "gzip", LIMIT)
    assert isinstance(got, Refusal) and got.status == 400


def test_request_ids_are_echoed_only_when_plain_and_short() -> None:
    assert request_id_of({"X-Request-Id": "req-42_a.b:c"}) == "req-42_a.b:c"
    for bad in ("x" * 129, "line\nbreak", "<script>", "", "caf\u00e9"):
        replaced = request_id_of({"X-Request-Id": bad})
        assert replaced != bad and len(replaced) == 32 and replaced.isalnum()
    assert len(request_id_of({})) == 32
