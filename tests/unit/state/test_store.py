"""The state store: changes per partition, restore, persist, load, drop; the batch framing.

Each behaviour runs on both layouts: every table in memory (no local copy), and a local
RocksDB copy with conversations on disk only, as a worker runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.state.local import LocalState, StateDirInUse
from processor.state.records import BATCH_HEADER, COMMIT_HEADER, Outgoing, decode_key
from processor.state.store import StateStore
from processor.state.writer import _Framing

RULES = {
    "conversations": lambda key: int(key.split("|")[0]),
    "totals": lambda key: int(key.split(":")[0]),
}


@pytest.fixture(params=["memory", "disk"])
def layout(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalState | None]:
    if request.param == "memory":
        yield None
        return
    local = LocalState(tmp_path / "state")
    yield local
    local.close()


def store(local: LocalState | None) -> StateStore:
    return StateStore(RULES, local, on_disk=frozenset({"conversations"}))


def records(outgoing: list[Outgoing]) -> dict[tuple[str, Any], Any]:
    return {
        decode_key(record.key or b""): None if record.value is None else orjson.loads(record.value)
        for record in outgoing
    }


def test_changes_are_kept_per_partition_once_per_key(layout: LocalState | None) -> None:
    state = store(layout)
    conversations, totals = state["conversations"], state["totals"]
    conversations["0|c1"] = {"posts": 1}
    conversations["0|c1"] = {"posts": 2}  # the newest value only
    conversations["1|c2"] = {"posts": 1}
    totals["1:acme"] = {"mentions": 3}
    assert state.changed_partitions() == {0, 1}
    assert records(state.take_changes(0)) == {("conversations", "0|c1"): {"posts": 2}}
    assert records(state.take_changes(1)) == {
        ("conversations", "1|c2"): {"posts": 1},
        ("totals", "1:acme"): {"mentions": 3},
    }
    assert state.changed_partitions() == set()
    # Taken but not yet persisted: still read.
    assert conversations["1|c2"] == {"posts": 1} and "1|c2" in conversations
    del conversations["1|c2"]
    assert "1|c2" not in conversations and conversations.get("1|c2") is None
    assert records(state.take_changes(1)) == {("conversations", "1|c2"): None}  # a tombstone
    state.persist({0: 10, 1: 11})
    assert "1|c2" not in conversations and conversations["0|c1"]["posts"] == 2
    assert state.offsets == {0: 10, 1: 11}


def test_persisted_changes_survive_a_restart(tmp_path: Path) -> None:
    local = LocalState(tmp_path / "state")
    state = store(local)
    state["conversations"]["0|c1"] = {"posts": 2}
    state["conversations"]["0|c2"] = {"posts": 1}
    state["totals"]["0:acme"] = {"mentions": 3}
    state["totals"]["1:acme"] = {"mentions": 4}
    state.take_changes(0), state.take_changes(1)
    state.persist({0: 41, 1: 7})
    del state["conversations"]["0|c2"]
    state["totals"]["0:acme"] = {"mentions": 5}
    state.take_changes(0)  # written to the changelog, never persisted: the crash comes here
    local.close()

    local = LocalState(tmp_path / "state")
    again = store(local)
    assert again.load({0, 2}) == {0: 41}  # partition 2 has no copy here
    assert again.offsets == {0: 41}  # the tail after 41 is for the changelog to give
    assert dict(again["totals"].items()) == {"0:acme": {"mentions": 3}}  # 1 not loaded
    assert dict(again["conversations"].items()) == {"0|c1": {"posts": 2}, "0|c2": {"posts": 1}}
    assert local.partitions() == {0, 1}
    local.close()


def test_restore_applies_records_without_writing_them_back(layout: LocalState | None) -> None:
    state = store(layout)
    state.restore(0, 7, b'["conversations","0|c1"]', b'{"posts":4}')
    state.restore(0, 9, b'["totals","0:acme"]', b'{"mentions":1}')
    state.restore(0, 8, b'["later_table","x"]', b"1")  # a table of a later version: ignored
    state.flush_restored()
    assert state["conversations"]["0|c1"] == {"posts": 4}
    assert state.offsets == {0: 9}
    assert state.changed_partitions() == set()
    state.restore(0, 10, b'["conversations","0|c1"]', None)
    state.flush_restored()
    assert "0|c1" not in state["conversations"] and state.offsets == {0: 10}
    if layout is not None:
        assert layout.offset(0) == 10


def test_drop_forgets_the_partitions_in_memory_and_keeps_the_local_copy(
    layout: LocalState | None,
) -> None:
    state = store(layout)
    state["conversations"]["0|a"] = {"posts": 1}
    state["conversations"]["1|b"] = {"posts": 1}
    state["totals"]["1:acme"] = {"mentions": 1}
    state.take_changes(1)
    state.persist({1: 6})
    state["totals"]["1:acme"] = {"mentions": 2}  # unwritten
    state.offsets[0] = 5
    state.drop({1})
    assert dict(state["conversations"].items()) == {"0|a": {"posts": 1}}
    assert len(state["totals"]) == 0
    assert state.offsets == {0: 5} and state.has(0) and not state.has(1)
    assert state.changed_partitions() == {0}
    if layout is not None:  # back later: the copy as persisted, not the unwritten change
        assert state.load({1}) == {1: 6}
        assert state["totals"]["1:acme"] == {"mentions": 1}
        state.forget({1})
        assert layout.offset(1) is None and list(layout.rows(1)) == []


def test_a_partition_reads_its_rows_in_one_range(tmp_path: Path) -> None:
    local = LocalState(tmp_path / "state")
    local.write(3, [(b'["conversations","3|a"]', b"1"), (b'["totals","3:x"]', b"2")], 12)
    local.write(4, [(b'["conversations","4|a"]', b"3")], 2)
    assert list(local.rows(3)) == [(b'["conversations","3|a"]', b"1"), (b'["totals","3:x"]', b"2")]
    assert list(local.rows(3, b'["totals",')) == [(b'["totals","3:x"]', b"2")]
    assert local.offset(3) == 12 and local.offset(4) == 2 and local.offset(5) is None
    assert local.partitions() == {3, 4}
    local.close()


def test_a_state_dir_in_use_says_which_variable_to_change(tmp_path: Path) -> None:
    local = LocalState(tmp_path / "state")
    with pytest.raises(StateDirInUse, match="SOCIALCARE_DATA_DIR"):
        LocalState(tmp_path / "state")
    local.close()


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
