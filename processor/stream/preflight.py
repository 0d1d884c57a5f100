"""What a process checks before it serves: its port is free, Kafka and Redis answer.

Each failure a user can cause at start (nothing listening at KAFKA_BOOTSTRAP_SERVERS, a
Redis that is not there, a port another process holds) is a `StartupError`: one line that
names the address and the setting to change, printed without a traceback (unless
SOCIALCARE_LOG_LEVEL=debug) and exit status 2. The waits are bounded
(SOCIALCARE_STARTUP_TIMEOUT_SECONDS) and say what they wait for; the Kafka client's own
connection errors are kept quiet meanwhile, one line instead of a minute of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from processor.errors import SocialcareError

log = logging.getLogger(__name__)

_KAFKA_LOGGERS = ("aiokafka", "kafka")


class StartupError(SocialcareError):
    """Something the process needs at start is not there: the message says what to do."""


def check_port(host: str, port: int, variable: str) -> None:
    """Refuse to start on a port another process listens on."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"port {port} on {host} ({variable}) is not free ({exc.strerror}): stop what "
                f"holds it or set {variable} to a free port"
            ) from None


@contextlib.contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """The Kafka client logs every failed connection attempt: not while we wait for it."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    loggers = [logging.getLogger(name) for name in _KAFKA_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def wait_for_kafka(bootstrap_servers: str, timeout: float) -> None:
    """Wait until one of the bootstrap servers accepts a connection, at most `timeout`."""
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]
    deadline = time.monotonic() + timeout
    said = False
    while True:
        for server in servers:
            host, _, port = server.rpartition(":")
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(host.strip("[]") or "localhost", int(port or 9092)),
                    timeout=2.0,
                )
            except (OSError, TimeoutError, ValueError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        if time.monotonic() >= deadline:
            raise StartupError(
                f"cannot reach Kafka at {bootstrap_servers} (waited {timeout:g}s): start the "
                "broker or set KAFKA_BOOTSTRAP_SERVERS"
            )
        if not said:
            log.info("waiting up to %gs for Kafka at %s", timeout, bootstrap_servers)
            said = True
        await asyncio.sleep(0.5)


async def wait_for_redis(url: str, timeout: float) -> None:
    """Wait until Redis answers a PING, at most `timeout`."""
    client = aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    deadline = time.monotonic() + timeout
    said = False
    try:
        while True:
            try:
                await client.ping()
                return
            except (RedisError, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise StartupError(
                        f"cannot reach Redis at {redacted(url)} (waited {timeout:g}s: "
                        f"{type(exc).__name__}): start it or set REDIS_URL"
                    ) from None
            if not said:
                log.info("waiting up to %gs for Redis at %s", timeout, redacted(url))
                said = True
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()


def redacted(url: str) -> str:
    """A URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))
