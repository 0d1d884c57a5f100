"""Which writer a worker's settings build, and the codec its producers get (the bytes on a
real broker: tests/integration/test_changelog_compression.py)."""

from __future__ import annotations

import asyncio

import pytest

from processor.settings import Settings
from processor.state.writer import FramedWriter, TransactionalWriter, changelog_writer


def producer_codec(writer: TransactionalWriter) -> str | None:
    """The codec of a partition's producer, built (in a loop, as aiokafka wants) and not
    started: aiokafka checks the codec's library when the producer is made."""

    async def build() -> str | None:
        codec: str | None = writer._new_producer(0)._compression_type
        return codec

    return asyncio.run(build())


@pytest.mark.parametrize("codec", ["lz4", "zstd", "gzip", "snappy"])
def test_the_codec_reaches_the_producers_of_both_writers(codec: str) -> None:
    transactional = changelog_writer(
        "127.0.0.1:1", "app", "app-state-changelog",
        transactional=True, one_record_per_batch=False, compression=codec,
    )  # fmt: skip
    assert isinstance(transactional, TransactionalWriter)
    assert producer_codec(transactional) == codec
    framed = changelog_writer(
        "127.0.0.1:1", "app", "app-state-changelog",
        transactional=False, one_record_per_batch=True, compression=codec,
    )  # fmt: skip
    assert isinstance(framed, FramedWriter)
    assert framed._compression == codec


def test_none_writes_batches_as_they_are() -> None:
    writer = changelog_writer(
        "127.0.0.1:1", "app", "app-state-changelog",
        transactional=True, one_record_per_batch=False, compression="none",
    )  # fmt: skip
    assert isinstance(writer, TransactionalWriter)
    assert producer_codec(writer) is None


def test_none_by_default_and_an_unknown_codec_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().changelog_compression == "none"
    monkeypatch.setenv("SOCIALCARE_CHANGELOG_COMPRESSION", "brotli")
    with pytest.raises(Exception, match="SOCIALCARE_CHANGELOG_COMPRESSION"):
        Settings()
