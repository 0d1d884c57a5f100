"""The partition core writes its documents' changelog keys itself: the bytes
`records.encode_key` writes (orjson), for every key a conversation id can make, escapes
and all; a record's key decides which record compaction keeps, so one byte off would
keep two copies of a conversation."""

from __future__ import annotations

from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.state.records import encode_key

# Any text without lone surrogates (neither encoder takes those; such an id is refused
# when the event is decoded).
IDS = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 4095), IDS)
def test_the_core_s_changelog_keys_are_encode_key_s(
    native: ModuleType, partition: int, conversation_id: str
) -> None:
    key = f"{partition}|{conversation_id}"
    assert native.changelog_key("conversations", key) == encode_key("conversations", key)


def test_escapes_the_two_encoders_write_alike(native: ModuleType) -> None:
    key = '0|a"b\\c\x00\x01\x08\x0c\n\r\t\x1f\x7f é€𝄞\u2028'
    assert native.changelog_key("conversations", key) == encode_key("conversations", key)
