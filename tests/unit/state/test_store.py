"""The state store: changes per partition, restore from records, drop; the batch framing."""

from __future__ import annotations

from typing import Any

import orjson

from processor.state.records import BATCH_HEADER, COMMIT_HEADER, Outgoing, decode_key
from processor.state.store import StateStore
from processor.state.writer import _Framing


def store() -> StateStore:
    return StateStore(
        {
            "conversations": lambda key, value: int(value["partition"]),
            "totals": lambda key, value: int(key.split(":")[0]),
        }
    )


def records(outgoing: list[Outgoing]) -> dict[tuple[str, Any], Any]:
    return {
        decode_key(record.key or b""): None if record.value is None else orjson.loads(record.value)
        for record in outgoing
    }


def test_changes_are_kept_per_partition_once_per_key() -> None:
    state = store()
    conversations, totals = state["conversations"], state["totals"]
    conversations["c1"] = {"partition": 0, "posts": 1}
    conversations["c1"] = {"partition": 0, "posts": 2}  # the newest value only
    conversations["c2"] = {"partition": 1, "posts": 1}
    totals["1:acme"] = {"mentions": 3}
    assert state.changed_partitions() == {0, 1}
    assert records(state.take_changes(0)) == {("conversations", "c1"): {"partition": 0, "posts": 2}}
    assert records(state.take_changes(1)) == {
        ("conversations", "c2"): {"partition": 1, "posts": 1},
        ("totals", "1:acme"): {"mentions": 3},
    }
    assert state.changed_partitions() == set()
    del conversations["c2"]
    assert records(state.take_changes(1)) == {("conversations", "c2"): None}  # a tombstone
    assert "c2" not in conversations and conversations["c1"]["posts"] == 2


def test_restore_applies_records_without_writing_them_back() -> None:
    state = store()
    state.restore(0, 7, b'["conversations","c1"]', b'{"partition":0,"posts":4}')
    state.restore(0, 9, b'["totals","0:acme"]', b'{"mentions":1}')
    state.restore(0, 8, b'["later_table","x"]', b"1")  # a table of a later version: ignored
    assert state["conversations"]["c1"] == {"partition": 0, "posts": 4}
    assert state.offsets == {0: 9}
    assert state.changed_partitions() == set()
    state.restore(0, 10, b'["conversations","c1"]', None)
    assert "c1" not in state["conversations"] and state.offsets == {0: 10}


def test_drop_forgets_the_partitions_data_and_unwritten_changes() -> None:
    state = store()
    state["conversations"]["a"] = {"partition": 0}
    state["conversations"]["b"] = {"partition": 1}
    state["totals"]["1:acme"] = {"mentions": 1}
    state.offsets.update({0: 5, 1: 6})
    assert state.drop({1}) == 2
    assert list(state["conversations"]) == ["a"] and len(state["totals"]) == 0
    assert state.offsets == {0: 5} and state.has(0) and not state.has(1)
    assert state.changed_partitions() == {0}


def test_framing_marks_every_changelog_record_and_commits_on_the_last() -> None:
    framing = _Framing()
    batch = [
        Outgoing("deadletters", b"k", b"letter"),
        Outgoing("", b'["totals","0:a"]', b"{}"),
        Outgoing("", b'["progress",0]', b"{}"),
    ]
    framed = framing.frame(batch)
    letter, first, last = (dict(headers) for _, headers in framed)
    assert letter == {}  # dead letters are not changelog records
    assert first.keys() == {BATCH_HEADER}
    assert last[COMMIT_HEADER] == last[BATCH_HEADER] == first[BATCH_HEADER]
    again = dict(framing.frame(batch)[1][1])
    assert again[BATCH_HEADER] != first[BATCH_HEADER]  # every batch has its own id


def test_an_encoded_table_keeps_json_bytes_and_reads_values() -> None:
    state = StateStore(
        {"conversations": lambda key, value: int(value["partition"])},
        encoded=frozenset({"conversations"}),
    )
    table = state["conversations"]
    table["c1"] = {"partition": 2, "posts": [[1.5, "customer"]]}
    assert table["c1"] == {"partition": 2, "posts": [[1.5, "customer"]]}
    assert table._data["c1"] == b'{"partition":2,"posts":[[1.5,"customer"]]}'
    assert records(state.take_changes(2)) == {
        ("conversations", "c1"): {"partition": 2, "posts": [[1.5, "customer"]]}
    }
    # Restored records are stored as read, without decoding.
    state.restore(2, 4, b'["conversations","c2"]', b'{"partition":2}')
    assert table._data["c2"] == b'{"partition":2}' and dict(table.items())["c2"] == {"partition": 2}
    assert state.drop({2}) == 2 and len(table) == 0
