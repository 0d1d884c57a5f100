"""BufferedTable: reads see writes at once; one changelog record per key per flush."""

from __future__ import annotations

from typing import Any

from processor.stream.tables import BufferedTable


class RecordingTable:
    """The two parts of a Faust table the adaptor uses: its store and send_changelog."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.sent: list[tuple[int, Any, Any, str | None]] = []

    def send_changelog(
        self, partition: int, key: Any, value: Any, value_serializer: str | None = None
    ) -> None:
        self.sent.append((partition, key, value, value_serializer))


def test_writes_are_visible_and_coalesced_per_flush() -> None:
    table = RecordingTable()
    buffered = BufferedTable(table, lambda key, value: int(key.split(":")[0]))
    buffered["1:a"] = 1
    buffered["1:a"] = 2
    buffered["3:b"] = 5
    assert buffered["1:a"] == 2 and buffered.get("3:b") == 5 and "3:b" in buffered
    assert table.sent == []  # nothing sent before the flush
    assert buffered.flush() == 2
    # Last value wins, each to its own partition.
    assert sorted(table.sent) == [(1, "1:a", 2, None), (3, "3:b", 5, None)]
    assert buffered.flush() == 0


def test_delete_sends_a_tombstone_to_the_key_partition() -> None:
    table = RecordingTable()
    buffered = BufferedTable(table, lambda key, value: int(key.split(":")[0]))
    buffered["2:x"] = {"n": 1}
    buffered.flush()
    del buffered["2:x"]
    assert "2:x" not in buffered and len(buffered) == 0
    buffered.flush()
    assert table.sent[-1] == (2, "2:x", None, "raw")


def test_set_then_delete_in_one_batch_sends_only_the_tombstone() -> None:
    table = RecordingTable()
    buffered = BufferedTable(table, lambda key, value: 0)
    buffered["k"] = 1
    del buffered["k"]
    buffered.flush()
    assert table.sent == [(0, "k", None, "raw")]


def test_partition_can_come_from_the_value() -> None:
    table = RecordingTable()
    buffered = BufferedTable(table, lambda key, value: value["partition"])
    buffered["conv-1"] = {"partition": 7}
    buffered.flush()
    assert table.sent == [(7, "conv-1", {"partition": 7}, None)]
    assert list(buffered) == ["conv-1"] and dict(buffered.items()) == {"conv-1": {"partition": 7}}
