"""The webhook's credentials: a bearer token, or an HMAC signature of the body as sent.

Checked before any work that grows with the body: a bearer token from the header alone; a
signature's header (shape, timestamp within the tolerance) before the body is read, and
its MAC fed the body as it streams in, under the body limit, and compared at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from processor.errors import SocialcareError

SIGNATURE_HEADER = "X-Socialcare-Signature"
# t: unix seconds (ASCII digits, at most 12: year 33658); v1: a hex SHA-256 digest.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_DIGESTS = 8


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
    for part in header.split(",")[: 2 * _MAX_DIGESTS]:
        name, _, value = part.strip().partition("=")
        value = value.strip()
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "v1" and _DIGEST.fullmatch(value.lower()):
            digests.append(value.lower())
    if timestamp is None or not digests:
        raise AuthError(
            f"{SIGNATURE_HEADER} must be t=<unix seconds>,v1=<64 hex digits of HMAC-SHA256>"
        )
    return Signature(timestamp, digests[:_MAX_DIGESTS])


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Socialcare-Signature` value a sender computes (used by tests and clients)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass
class Credentials:
    """What a request presented; signature MACs are fed the body as it streams in."""

    signature: Signature | None = None
    macs: list[hmac.HMAC] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """True for a bearer token: the sender is known before the body is read."""
        return self.signature is None

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
    headers: Mapping[str, str], secrets: list[str], now: float, tolerance: float
) -> Credentials:
    """Check the headers; a signature is completed by `Credentials.verify` after the body."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization must be 'Bearer <secret>'")
        token_bytes = token.strip().encode("utf-8", "surrogateescape")
        if not any(hmac.compare_digest(token_bytes, secret.encode()) for secret in secrets):
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
