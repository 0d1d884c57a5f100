"""SLA policy resolution and the policy file (processor/domain/sla.py), by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from processor.domain.sla import (
    SlaPolicyCache,
    SlaPolicySet,
    SlaRule,
    SlaTargets,
    load_policy_file,
)

CONFIG = Path(__file__).resolve().parents[3] / "config" / "sla.yaml"
MIN = 60.0
HOUR = 3600.0


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


DEFAULT = SlaTargets(first_response=timedelta(hours=1), resolution=timedelta(hours=24))

# Each rule sets a different first_response so the winner can be read off the result.
LADDER = SlaPolicySet(
    default=DEFAULT,
    rules=[
        SlaRule(priority="urgent", first_response=minutes(50)),
        SlaRule(channel="twitter", first_response=minutes(40)),
        SlaRule(brand="Acme", first_response=minutes(30)),
        SlaRule(brand="Acme", priority="urgent", first_response=minutes(10)),
    ],
)


@pytest.mark.parametrize(
    ("brand", "channel", "priority", "expected_minutes"),
    [
        ("Acme", "twitter", "urgent", 10),  # brand+priority beats everything here
        ("Acme", "twitter", "high", 30),  # brand beats channel
        ("Acme", "facebook", "normal", 30),  # brand alone
        ("Other", "twitter", "urgent", 40),  # channel beats priority
        ("Other", "facebook", "urgent", 50),  # priority alone
        ("Other", "facebook", "normal", 60),  # nothing matches: default 1 h
    ],
)
def test_most_specific_rule_wins(
    brand: str, channel: str, priority: str, expected_minutes: float
) -> None:
    assert LADDER.target_seconds("first_response", brand, channel, priority) == (
        expected_minutes * MIN
    )


def test_rule_order_does_not_matter() -> None:
    reversed_set = SlaPolicySet(default=DEFAULT, rules=list(reversed(LADDER.rules)))
    for args in [
        ("Acme", "twitter", "urgent"),
        ("Acme", "twitter", "high"),
        ("Other", "twitter", "urgent"),
    ]:
        assert reversed_set.target_seconds("first_response", *args) == LADDER.target_seconds(
            "first_response", *args
        )


def test_brand_channel_priority_rule_beats_brand_channel() -> None:
    policy = SlaPolicySet(
        default=DEFAULT,
        rules=[
            SlaRule(brand="Acme", channel="twitter", first_response=minutes(20)),
            SlaRule(brand="Acme", channel="twitter", priority="high", first_response=minutes(5)),
        ],
    )
    assert policy.target_seconds("first_response", "Acme", "twitter", "high") == 5 * MIN
    assert policy.target_seconds("first_response", "Acme", "twitter", "low") == 20 * MIN


def test_any_two_beat_one_alone() -> None:
    policy = SlaPolicySet(
        default=DEFAULT,
        rules=[
            SlaRule(brand="Acme", first_response=minutes(30)),
            SlaRule(channel="twitter", priority="urgent", first_response=minutes(10)),
        ],
    )
    # two matched fields (channel, priority) against one (brand): the two-field rule wins
    assert policy.target_seconds("first_response", "Acme", "twitter", "urgent") == 10 * MIN


def test_per_target_fall_through() -> None:
    policy = SlaPolicySet(
        default=DEFAULT,
        rules=[
            SlaRule(brand="Acme", resolution=timedelta(hours=8)),
            SlaRule(brand="Acme", priority="urgent", first_response=minutes(5)),
        ],
    )
    # first_response: the brand+priority rule; resolution: it does not set one, so the
    # brand rule's 8 h applies
    assert policy.target_seconds("first_response", "Acme", "x", "urgent") == 5 * MIN
    assert policy.target_seconds("resolution", "Acme", "x", "urgent") == 8 * HOUR
    # brand without priority: first_response not set by any match -> default 1 h
    assert policy.target_seconds("first_response", "Acme", "x", "normal") == 1 * HOUR
    assert policy.target_seconds("resolution", "Acme", "x", "normal") == 8 * HOUR
    # another brand: defaults 1 h / 24 h
    assert policy.target_seconds("first_response", "B", "x", "urgent") == 1 * HOUR
    assert policy.target_seconds("resolution", "B", "x", "urgent") == 24 * HOUR


def test_builtin_default() -> None:
    policy = SlaPolicySet()
    assert policy.target_seconds("first_response", "a", "b", "normal") == 3600.0
    assert policy.target_seconds("resolution", "a", "b", "normal") == 86400.0


def test_with_rule_adds_replaces_and_merges() -> None:
    base = SlaPolicySet(
        default=DEFAULT,
        rules=[SlaRule(brand="Acme", first_response=minutes(30), resolution=timedelta(hours=8))],
    )
    # same match: first_response replaced, resolution kept (merged)
    merged = base.with_rule(SlaRule(brand="Acme", first_response=minutes(10)))
    assert merged.rules == [
        SlaRule(brand="Acme", first_response=minutes(10), resolution=timedelta(hours=8))
    ]
    assert merged.target_seconds("first_response", "Acme", "c", "normal") == 10 * MIN
    assert merged.target_seconds("resolution", "Acme", "c", "normal") == 8 * HOUR
    # the original is not modified
    assert base.rules[0].first_response == minutes(30)
    # a different match (brand + priority) is appended
    added = merged.with_rule(SlaRule(brand="Acme", priority="high", resolution=timedelta(hours=2)))
    assert len(added.rules) == 2
    assert added.rules[1] == SlaRule(brand="Acme", priority="high", resolution=timedelta(hours=2))
    assert added.target_seconds("resolution", "Acme", "c", "high") == 2 * HOUR
    assert added.target_seconds("first_response", "Acme", "c", "high") == 10 * MIN


def test_invalid_targets_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlaRule(brand="Acme", first_response=timedelta(0))
    with pytest.raises(ValueError, match="positive"):
        SlaTargets(first_response=timedelta(seconds=-1), resolution=timedelta(hours=1))
    with pytest.raises(ValueError):
        SlaRule(priority="critical")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SlaRule(brand="Acme", colour="red")  # type: ignore[call-arg]


GOOD_YAML = """\
default:
  first_response: PT15M
  resolution: 28800
rules:
  - brand: Acme
    priority: urgent
    first_response: PT5M
  - channel: twitter
    resolution: P1D
  - priority: low
    first_response: 3600
"""


def test_load_good_file(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(GOOD_YAML)
    policy, digest = load_policy_file(path)
    # PT15M = 900 s; 28800 s = 8 h; PT5M = 300 s; P1D = 86400 s; 3600 s
    assert policy.default == SlaTargets(
        first_response=timedelta(seconds=900), resolution=timedelta(seconds=28800)
    )
    assert policy.target_seconds("first_response", "Acme", "twitter", "urgent") == 300.0
    assert policy.target_seconds("resolution", "Acme", "twitter", "urgent") == 86400.0
    assert policy.target_seconds("first_response", "B", "facebook", "low") == 3600.0
    assert policy.target_seconds("resolution", "B", "facebook", "low") == 28800.0
    assert len(digest) == 64
    assert all(ch in "0123456789abcdef" for ch in digest)
    # same bytes, same hash; changed bytes, another hash
    assert load_policy_file(path)[1] == digest
    path.write_text(GOOD_YAML + "\n# comment\n")
    assert load_policy_file(path)[1] != digest


def test_empty_file_gives_builtin_default(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("")
    policy, _ = load_policy_file(path)
    assert policy == SlaPolicySet()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("default: [first_response: PT15M\n", id="bad-yaml"),
        pytest.param("rules:\n  - brand: Acme\n    first_respons: PT5M\n", id="unknown-rule-key"),
        pytest.param("defaults:\n  first_response: PT1H\n", id="unknown-top-key"),
        pytest.param("rules:\n  - brand: Acme\n    first_response: -900\n", id="negative-target"),
        pytest.param("rules:\n  - brand: Acme\n    first_response: 0\n", id="zero-target"),
        pytest.param(
            "rules:\n  - priority: critical\n    first_response: PT5M\n", id="unknown-priority"
        ),
        pytest.param("default:\n  first_response: PT1H\n", id="default-missing-resolution"),
        pytest.param("rules:\n  - brand: Acme\n    first_response: soon\n", id="bad-duration"),
        pytest.param("- a\n- b\n", id="top-level-list"),
    ],
)
def test_load_bad_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="SOCIALCARE_SLA_CONFIG") as info:
        load_policy_file(path)
    assert str(path) in str(info.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SOCIALCARE_SLA_CONFIG"):
        load_policy_file(tmp_path / "nope.yaml")


def test_cache_memo_and_replace() -> None:
    cache = SlaPolicyCache(
        SlaPolicySet(default=SlaTargets(first_response=minutes(15), resolution=timedelta(hours=8))),
        version=1,
    )
    assert cache.target_seconds("first_response", "A", "t", "normal") == 900.0
    # the memo answers from the old policy until replace() (policy mutated behind its back)
    cache.policy = SlaPolicySet(
        default=SlaTargets(first_response=minutes(1), resolution=timedelta(hours=1))
    )
    assert cache.target_seconds("first_response", "A", "t", "normal") == 900.0
    cache.replace(
        SlaPolicySet(default=SlaTargets(first_response=minutes(5), resolution=timedelta(hours=2))),
        version=7,
    )
    assert cache.version == 7
    assert cache.target_seconds("first_response", "A", "t", "normal") == 300.0
    assert cache.target_seconds("resolution", "A", "t", "normal") == 7200.0


def test_cache_default_policy() -> None:
    cache = SlaPolicyCache()
    assert cache.version == 0
    assert cache.target_seconds("first_response", "A", "t", "normal") == 3600.0


def test_json_round_trip() -> None:
    policy = LADDER.with_rule(SlaRule(channel="facebook", resolution=timedelta(hours=3)))
    assert SlaPolicySet.model_validate_json(policy.to_json()) == policy


def test_shipped_config_loads() -> None:
    if not CONFIG.exists():
        pytest.skip("config/sla.yaml does not exist")
    policy, _ = load_policy_file(CONFIG)
    assert policy.default.first_response > timedelta(0)
    assert policy.default.resolution >= policy.default.first_response
    # Hand-read from the file: default PT1H / PT24H; urgent PT15M / PT4H; high PT30M;
    # twitter PT30M; AcmeSupport PT20M / PT8H; AcmeSupport+urgent PT5M.
    if policy.default.first_response == timedelta(hours=1) and len(policy.rules) == 5:
        assert policy.target_seconds("first_response", "X", "facebook", "normal") == 3600.0
        assert policy.target_seconds("first_response", "X", "facebook", "urgent") == 900.0
        assert policy.target_seconds("resolution", "X", "facebook", "urgent") == 4 * HOUR
        assert policy.target_seconds("first_response", "X", "twitter", "normal") == 1800.0
        assert policy.target_seconds("first_response", "AcmeSupport", "twitter", "high") == 1200.0
        assert policy.target_seconds("first_response", "AcmeSupport", "x", "urgent") == 300.0
        # resolution for AcmeSupport+urgent: brand (8 h) beats priority (4 h)
        assert policy.target_seconds("resolution", "AcmeSupport", "x", "urgent") == 8 * HOUR
