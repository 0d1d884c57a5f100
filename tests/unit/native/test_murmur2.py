"""The native murmur2 (where a customer's facts go) against aiokafka's, the reference: the
same partition for every key, so the worker and Kafka's own clients agree."""

from __future__ import annotations

from types import ModuleType

from aiokafka.partitioner import murmur2
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=64))
def test_the_native_murmur2_is_aiokafkas(native: ModuleType, key: bytes) -> None:
    assert native.murmur2(key) == murmur2(key)


def test_customer_keys_hash_alike(native: ModuleType) -> None:
    for number in range(5000):
        key = f"AcmeSupport|cust-{number * 7919}".encode()
        assert native.murmur2(key) == murmur2(key)
