"""The webhook's pure parts: signatures, authentication, splitting a body into events."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from processor.domain.events import Rejection
from processor.ingest.webhook_auth import AuthError, authenticate, parse_signature, sign
from processor.ingest.webhook_body import split_body

SECRET = "s" * 32
OTHER = "o" * 32
NOW = 1_800_000_000.0


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"event_id": "e1"}'
    expected = hmac.new(SECRET.encode(), b"1800000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1_800_000_000, body) == f"t=1800000000,v1={expected}"


def test_parse_signature_takes_every_v1() -> None:
    first, second = "AB" * 32, "cd" * 32
    parsed = parse_signature(f"t=12, v1={first} ,v1={second},v0=old")
    assert (parsed.timestamp, parsed.digests) == (12, [first.lower(), second])
    malformed = (
        f"v1={second}", "t=12", f"t=x,v1={second}", "", "t=12,v1=ab",
        # not ASCII digits, or absurdly long: refused, not parsed (these were 500s)
        f"t=\u00b2,v1={second}", f"t=\u0663,v1={second}", f"t={'9' * 400},v1={second}",
        f"t=12,v1={'g' * 64}",
    )  # fmt: skip
    for header in malformed:
        with pytest.raises(AuthError):
            parse_signature(header)


def verified(headers: dict[str, str], body: bytes, now: float = NOW) -> None:
    credentials = authenticate(headers, [SECRET, OTHER], now, tolerance=300)
    credentials.update(body[:3])
    credentials.update(body[3:])  # fed in chunks, as the body streams in
    credentials.verify()


def test_signature_within_tolerance_with_any_secret() -> None:
    body = b"[1, 2]"
    verified({"X-Socialcare-Signature": sign(SECRET, int(NOW) - 300, body)}, body)
    verified({"X-Socialcare-Signature": sign(OTHER, int(NOW) + 300, body)}, body)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing credentials"),
        ({"Authorization": "Bearer nope"}, "wrong bearer token"),
        ({"Authorization": f"Basic {SECRET}"}, "Bearer"),
        ({"Authorization": "Bearer"}, "Bearer"),
        ({"X-Socialcare-Signature": sign(SECRET, int(NOW) - 301, b"body")}, "tolerance"),
        ({"X-Socialcare-Signature": sign(SECRET, int(NOW) + 301, b"body")}, "tolerance"),
        ({"X-Socialcare-Signature": sign("x" * 32, int(NOW), b"body")}, "does not match"),
        ({"X-Socialcare-Signature": sign(SECRET, int(NOW), b"other body")}, "does not match"),
    ],
)
def test_refusals(headers: dict[str, str], message: str) -> None:
    with pytest.raises(AuthError, match=message):
        verified(headers, b"body")


def test_non_ascii_bearer_token_is_refused_not_an_error() -> None:
    with pytest.raises(AuthError, match="wrong bearer token"):
        verified({"Authorization": "Bearer s\u00e9cret-\udcff"}, b"")


def test_bearer_with_either_secret() -> None:
    verified({"Authorization": f"Bearer {SECRET}"}, b"")
    verified({"Authorization": f"bearer {OTHER}"}, b"")


def test_split_body_forms() -> None:
    assert split_body(b'{"a": 1}', "application/json") == [b'{"a": 1}']
    assert split_body(b'[{"a": 1}, {"b": [2]}]', "application/json") == [
        b'{"a":1}', b'{"b":[2]}'
    ]  # fmt: skip
    lines = b'{"a": 1}\r\n\n  {"b": 2}\n{broken\n'
    assert split_body(lines, "application/x-ndjson") == [b'{"a": 1}', b'{"b": 2}', b"{broken"]
    # JSON lines sent as application/json are read line by line
    assert split_body(b'{"a": 1}\n{"b": 2}', "application/json") == [b'{"a": 1}', b'{"b": 2}']
    assert split_body(b'{"a": 1}\n{broken', "application/json") == [b'{"a": 1}', b"{broken"]
    # ...but a pretty-printed document with a missing comma is one broken body, not a
    # rejection per line
    pretty = b"[\n" + b",\n".join(b'  {\n    "a": %d\n  }' % i for i in range(500))
    broken = pretty.replace(b"},\n", b"}\n", 1) + b"\n]"
    rejected_whole = split_body(broken, "application/json")
    assert isinstance(rejected_whole, Rejection) and rejected_whole.reason == "invalid_json"
    assert len(split_body(pretty + b"\n]", "application/json")) == 500
    # a single broken document is one rejection of the whole body
    rejected = split_body(b'[{"a": 1}, {"b": ', "application/json")
    assert isinstance(rejected, Rejection) and rejected.reason == "invalid_json"
    # a batch holding NaN is not JSON: the whole body is refused, JSON lines isolate it
    assert isinstance(split_body(b"[1, NaN]", "application/json"), Rejection)
    assert split_body(b"1\nNaN", "application/x-ndjson") == [b"1", b"NaN"]
