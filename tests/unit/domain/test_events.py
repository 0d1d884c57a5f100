"""The event models (`decode_event`) and the JSON Schema files give the same verdicts.

Every corpus case carries a verdict decided by hand from docs/design.md ("Event contract,
version 1") and the schema text. Each case is checked three ways: the JSON Schema validator
(draft 2020-12, all schema files registered under their `$id`, formats asserted) gives the
hand verdict, `decode_event` gives the hand verdict, and so the two agree. Cases where the
code disagrees with the schema are marked `xfail(strict=True)` with the reason: they are
bugs in processor/domain/events.py, to be fixed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.domain.events import (
    Mention,
    Redirection,
    Rejection,
    Reply,
    Survey,
    decode_event,
)
from tests.schemas import schema_documents, validators

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
TYPES = ("mention", "reply", "redirection", "survey")
LIMIT = 1_000_000

Doc = dict[str, Any]


SCHEMA_DOCS = {f"{name}.schema.json": doc for name, doc in schema_documents().items()}
VALIDATORS = {event_type: validators()[event_type] for event_type in TYPES}


def schema_valid(event_type: str, doc: Any) -> bool:
    return VALIDATORS[event_type].is_valid(doc)


def decoded_valid(event_type: str, doc: Any) -> bool:
    result = decode_event(orjson.dumps(doc), event_type, LIMIT)
    return not isinstance(result, Rejection)


# -- the corpus -------------------------------------------------------------------------------

COMMON: Doc = {
    "event_id": "tw-1",
    "occurred_at": "2017-10-31T22:10:47Z",
    "conversation_id": "tw-1",
    "brand": "AcmeSupport",
    "channel": "twitter",
}
BASE: dict[str, Doc] = {
    "mention": {**COMMON, "type": "mention", "author_id": "u-115712"},
    "reply": {**COMMON, "event_id": "tw-2", "type": "reply"},
    "redirection": {**COMMON, "event_id": "tw-3", "type": "redirection", "to_channel": "dm"},
    "survey": {**COMMON, "event_id": "svy-1", "type": "survey", "kind": "csat", "score": 4},
}
DROP = object()  # a value meaning "remove this field"


def make(event_type: str, **changes: Any) -> Doc:
    doc = dict(BASE[event_type])
    for name, value in changes.items():
        if value is DROP:
            doc.pop(name, None)
        else:
            doc[name] = value
    return doc


@dataclass(frozen=True)
class Case:
    id: str
    event_type: str  # the type the topic carries
    doc: Any
    valid: bool  # decided by hand from the contract
    code_bug: str | None = None  # why decode_event is known to disagree (xfail)


CASES: list[Case] = [
    # valid events, one per type, minimal and full
    Case("mention-minimal", "mention", make("mention"), True),
    Case("reply-minimal", "reply", make("reply"), True),
    Case("redirection-minimal", "redirection", make("redirection"), True),
    Case("survey-minimal", "survey", make("survey"), True),
    Case(
        "mention-full",
        "mention",
        make(
            "mention",
            schema_version=1,
            text="my phone keeps restarting",
            in_reply_to="tw-0",
            priority="urgent",
            sentiment=-0.6,
            inquiry_type="complaint",
            customer_value=1200.0,
            language="pt-BR",
        ),
        True,
    ),
    Case(
        "reply-full",
        "reply",
        make(
            "reply",
            agent_id="agent-17",
            team="Tier 1",
            in_reply_to="tw-1",
            text="Sorry to hear that",
            public=False,
            automated=True,
            resolves=True,
        ),
        True,
    ),
    Case(
        "redirection-full",
        "redirection",
        make("redirection", to_channel="voice", agent_id="a-1", reason="needs account"),
        True,
    ),
    Case("survey-nps", "survey", make("survey", kind="nps", score=9, survey_id="s-9"), True),
    # null optional fields are allowed (every optional field is "type": [..., "null"])
    Case(
        "mention-null-optionals",
        "mention",
        make(
            "mention",
            text=None,
            in_reply_to=None,
            priority=None,
            sentiment=None,
            inquiry_type=None,
            customer_value=None,
            language=None,
        ),
        True,
    ),
    Case(
        "reply-null-optionals",
        "reply",
        make(
            "reply",
            agent_id=None,
            team=None,
            in_reply_to=None,
            text=None,
            public=None,
            automated=None,
            resolves=None,
        ),
        True,
    ),
    Case("survey-null-survey-id", "survey", make("survey", survey_id=None), True),
    # unknown extra fields are kept and ignored
    Case("extra-fields", "mention", make("mention", x_source="khoros", nested={"a": [1]}), True),
    # required common fields missing
    *[
        Case(f"missing-{name}", "mention", make("mention", **{name: DROP}), False)
        for name in ("event_id", "type", "occurred_at", "conversation_id", "brand", "channel")
    ],
    # required per-type fields missing
    Case("missing-author_id", "mention", make("mention", author_id=DROP), False),
    Case("missing-to_channel", "redirection", make("redirection", to_channel=DROP), False),
    Case("missing-kind", "survey", make("survey", kind=DROP), False),
    Case("missing-score", "survey", make("survey", score=DROP), False),
    # wrong types
    Case("event_id-int", "mention", make("mention", event_id=17), False),
    Case("event_id-empty", "mention", make("mention", event_id=""), False),
    Case("brand-null", "mention", make("mention", brand=None), False),
    Case("occurred_at-number", "mention", make("mention", occurred_at=1509487847), False),
    Case("public-string", "reply", make("reply", public="true"), False),
    Case("automated-int", "reply", make("reply", automated=1), False),
    Case("score-string", "survey", make("survey", score="4"), False),
    Case("score-fraction", "survey", make("survey", score=4.5), False),
    Case("score-bool", "survey", make("survey", score=True), False),
    Case("text-number", "mention", make("mention", text=5), False),
    Case("sentiment-int", "mention", make("mention", sentiment=1), True),
    Case("customer_value-int", "mention", make("mention", customer_value=0), True),
    Case("sentiment-string", "mention", make("mention", sentiment="0.5"), False),
    Case("sentiment-bool", "mention", make("mention", sentiment=True), False),
    Case("customer_value-string", "mention", make("mention", customer_value="10"), False),
    Case("score-integral-float", "survey", make("survey", score=5.0), True),
    # bad enum values
    Case("priority-critical", "mention", make("mention", priority="critical"), False),
    Case("priority-uppercase", "mention", make("mention", priority="HIGH"), False),
    Case("inquiry_type-bad", "mention", make("mention", inquiry_type="rant"), False),
    Case("to_channel-sms", "redirection", make("redirection", to_channel="sms"), False),
    Case("kind-ces", "survey", make("survey", kind="ces", score=3), False),
    Case("type-unknown", "mention", make("mention", type="like"), False),
    # timestamps
    Case("time-no-offset", "mention", make("mention", occurred_at="2017-10-31T22:10:47"), False),
    Case("time-month-13", "mention", make("mention", occurred_at="2017-13-01T00:00:00Z"), False),
    Case("time-feb-30", "mention", make("mention", occurred_at="2017-02-30T00:00:00Z"), False),
    Case("time-feb-29-2017", "mention", make("mention", occurred_at="2017-02-29T12:00:00Z"), False),
    Case("time-feb-29-2016", "mention", make("mention", occurred_at="2016-02-29T12:00:00Z"), True),
    Case("time-hour-24", "mention", make("mention", occurred_at="2017-10-31T24:00:00Z"), False),
    Case("time-date-only", "mention", make("mention", occurred_at="2017-10-31"), False),
    Case("time-lowercase", "mention", make("mention", occurred_at="2017-10-31t22:10:47z"), True),
    Case(
        "time-offset-fraction",
        "mention",
        make("mention", occurred_at="2017-10-31T22:10:47.123+05:30"),
        True,
    ),
    Case(
        "time-offset-no-colon",
        "mention",
        make("mention", occurred_at="2017-10-31T22:10:47+0100"),
        False,
    ),
    Case("time-space", "mention", make("mention", occurred_at="2017-10-31 22:10:47Z"), False),
    # numeric ranges
    Case("csat-0", "survey", make("survey", kind="csat", score=0), False),
    Case("csat-1", "survey", make("survey", kind="csat", score=1), True),
    Case("csat-5", "survey", make("survey", kind="csat", score=5), True),
    Case("csat-6", "survey", make("survey", kind="csat", score=6), False),
    Case("nps-minus-1", "survey", make("survey", kind="nps", score=-1), False),
    Case("nps-0", "survey", make("survey", kind="nps", score=0), True),
    Case("nps-10", "survey", make("survey", kind="nps", score=10), True),
    Case("nps-11", "survey", make("survey", kind="nps", score=11), False),
    Case("sentiment-1.5", "mention", make("mention", sentiment=1.5), False),
    Case("sentiment-minus-1", "mention", make("mention", sentiment=-1), True),
    Case("sentiment-minus-1.01", "mention", make("mention", sentiment=-1.01), False),
    Case("customer_value-negative", "mention", make("mention", customer_value=-0.01), False),
    Case("rating-0", "mention", make("mention", rating=0), False),
    Case("rating-1", "mention", make("mention", rating=1), True),
    Case("rating-5", "mention", make("mention", rating=5), True),
    Case("rating-6", "mention", make("mention", rating=6), False),
    Case("rating-integral-float", "mention", make("mention", rating=4.0), True),
    Case("rating-fraction", "mention", make("mention", rating=4.5), False),
    Case("rating-string", "mention", make("mention", rating="5"), False),
    Case("rating-bool", "mention", make("mention", rating=True), False),
    Case(
        "review-source-google", "mention", make("mention", rating=2, review_source="google"), True
    ),
    Case("review-source-bad", "mention", make("mention", rating=2, review_source="amazon"), False),
    # schema_version
    Case("schema_version-2", "mention", make("mention", schema_version=2), False),
    Case("schema_version-string", "mention", make("mention", schema_version="1"), False),
    Case("schema_version-true", "mention", make("mention", schema_version=True), False),
    # label-bound strings
    Case("brand-with-space", "mention", make("mention", brand="Acme Support"), False),
    Case("brand-leading-underscore", "mention", make("mention", brand="_Acme"), False),
    Case("brand-100-chars", "mention", make("mention", brand="A" * 100), True),
    Case("brand-101-chars", "mention", make("mention", brand="A" * 101), False),
    Case("brand-at-dot-dash", "mention", make("mention", brand="acme.support@eu-1"), True),
    Case("channel-uppercase", "mention", make("mention", channel="Twitter"), False),
    Case("channel-digit-first", "mention", make("mention", channel="4chan"), False),
    Case("channel-32-chars", "mention", make("mention", channel="a" * 32), True),
    Case("channel-33-chars", "mention", make("mention", channel="a" * 33), False),
    Case("team-leading-space", "reply", make("reply", team=" Tier 1"), False),
    # lengths
    Case("event_id-256", "mention", make("mention", event_id="e" * 256), True),
    Case("event_id-257", "mention", make("mention", event_id="e" * 257), False),
    Case("conversation_id-257", "mention", make("mention", conversation_id="c" * 257), False),
    Case("text-20000", "mention", make("mention", text="x" * 20000), True),
    Case("text-20001", "mention", make("mention", text="x" * 20001), False),
    # 20000 astral characters: maxLength counts code points, not UTF-16 units or bytes
    Case("text-20000-emoji", "mention", make("mention", text="\U0001f600" * 20000), True),
    Case("reply-text-20001", "reply", make("reply", text="x" * 20001), False),
    Case("language-36", "mention", make("mention", language="x" * 36), False),
    Case("reason-1001", "redirection", make("redirection", reason="r" * 1001), False),
    Case("in_reply_to-empty", "mention", make("mention", in_reply_to=""), False),
    # not an object
    Case("array", "mention", [make("mention")], False),
    Case("string", "mention", "mention", False),
    Case("null", "mention", None, False),
    # an event of another type on this topic: the schema's type const fails
    Case("reply-on-mentions", "mention", make("reply"), False),
    Case("survey-on-replies", "reply", make("survey"), False),
]


def _params(cases: list[Case]) -> list[Any]:
    params = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=case.code_bug)] if case.code_bug else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def test_corpus_is_large_and_mixed() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(case.valid for case in CASES) >= 10
    assert sum(not case.valid for case in CASES) >= 30


def test_format_assertion_is_active() -> None:
    # Without rfc3339-validator installed, FormatChecker silently skips date-time and
    # month 13 would pass the schema; this guards the corpus against that.
    assert not schema_valid("mention", make("mention", occurred_at="2017-13-01T00:00:00Z"))


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_schema_gives_hand_verdict(case: Case) -> None:
    assert schema_valid(case.event_type, case.doc) is case.valid


@pytest.mark.parametrize("case", _params(CASES))
def test_decoder_gives_hand_verdict(case: Case) -> None:
    result = decode_event(orjson.dumps(case.doc), case.event_type, LIMIT)
    if case.valid:
        assert not isinstance(result, Rejection), result
    else:
        assert isinstance(result, Rejection)
        # A wrong-type object on a topic is wrong_topic; everything else breaks the schema.
        wrong_type = (
            isinstance(case.doc, dict)
            and case.doc.get("type") in TYPES
            and case.doc.get("type") != case.event_type
        )
        assert result.reason == ("wrong_topic" if wrong_type else "schema_violation")


@pytest.mark.parametrize("case", _params(CASES))
def test_decoder_and_schema_agree(case: Case) -> None:
    assert decoded_valid(case.event_type, case.doc) is schema_valid(case.event_type, case.doc)


# -- decoding details ---------------------------------------------------------------------


def test_decoded_types_and_fields() -> None:
    mention = decode_event(orjson.dumps(make("mention", priority="high")), "mention", LIMIT)
    assert isinstance(mention, Mention)
    assert mention.effective_priority == "high"
    assert isinstance(decode_event(orjson.dumps(make("reply")), "reply", LIMIT), Reply)
    redirection = decode_event(orjson.dumps(make("redirection")), "redirection", LIMIT)
    assert isinstance(redirection, Redirection)
    assert redirection.to_channel == "dm"
    survey = decode_event(orjson.dumps(make("survey")), "survey", LIMIT)
    assert isinstance(survey, Survey)
    assert (survey.kind, survey.score) == ("csat", 4)


def test_default_priority_is_normal() -> None:
    for doc in (make("mention"), make("mention", priority=None)):
        event = decode_event(orjson.dumps(doc), "mention", LIMIT)
        assert isinstance(event, Mention)
        assert event.effective_priority == "normal"


def test_extra_fields_are_accepted_and_cannot_set_the_event_time() -> None:
    """Fields outside the contract are allowed (they stay in the record's bytes), and one
    named like the decoded event time does not set it."""
    event = decode_event(
        orjson.dumps(make("mention", x_source="khoros", x_score=3, occurred_ts=5.0)),
        "mention", LIMIT,
    )  # fmt: skip
    assert isinstance(event, Mention)
    assert event.occurred_ts == 1509487847.0  # 2017-10-31T22:10:47Z
    assert not hasattr(event, "x_source")


def test_expected_type_none_accepts_any_type() -> None:
    assert isinstance(decode_event(orjson.dumps(make("reply")), None, LIMIT), Reply)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b'{"event_id": "x",', "invalid_json", id="truncated"),
        pytest.param(b"", "invalid_json", id="empty"),
        pytest.param(b"\xff\xfe{}", "invalid_json", id="invalid-utf8-bom"),
        pytest.param(b'{"event_id": "\xc3\x28"}', "invalid_json", id="invalid-utf8-in-string"),
        pytest.param(b'{"sentiment": NaN}', "invalid_json", id="nan-literal"),
        pytest.param(b'{"sentiment": Infinity}', "invalid_json", id="infinity-literal"),
        pytest.param(b'{"sentiment": 1e400}', "invalid_json", id="overflow-to-infinity"),
        pytest.param(
            b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "invalid_json", id="nested-too-deeply"
        ),
        pytest.param(b"[1, 2]", "schema_violation", id="json-array"),
        pytest.param(b'"mention"', "schema_violation", id="json-string"),
        pytest.param(b"null", "schema_violation", id="json-null"),
        pytest.param(b"{}", "schema_violation", id="empty-object"),
    ],
)
def test_rejection_reasons(raw: bytes, reason: str) -> None:
    result = decode_event(raw, "mention", LIMIT)
    assert isinstance(result, Rejection)
    assert result.reason == reason


def test_none_value_is_invalid_json() -> None:
    result = decode_event(None, "mention", LIMIT)
    assert isinstance(result, Rejection)
    assert result.reason == "invalid_json"


def test_oversized_is_checked_on_bytes() -> None:
    raw = orjson.dumps(make("mention"))
    # exactly at the limit is accepted, one byte less of limit is oversized
    assert isinstance(decode_event(raw, "mention", len(raw)), Mention)
    result = decode_event(raw, "mention", len(raw) - 1)
    assert isinstance(result, Rejection)
    assert result.reason == "oversized"
    # oversized wins even when the bytes are not JSON
    garbage = decode_event(b"x" * 2000, "mention", 1024)
    assert isinstance(garbage, Rejection)
    assert garbage.reason == "oversized"


@pytest.mark.parametrize(
    ("doc_type", "topic_type"),
    [
        ("reply", "mention"),
        ("mention", "reply"),
        ("survey", "redirection"),
        ("redirection", "survey"),
    ],
)
def test_wrong_topic(doc_type: str, topic_type: str) -> None:
    result = decode_event(orjson.dumps(make(doc_type)), topic_type, LIMIT)
    assert isinstance(result, Rejection)
    assert result.reason == "wrong_topic"
    assert result.event_id == BASE[doc_type]["event_id"]


def test_schema_violation_carries_event_id_when_readable() -> None:
    result = decode_event(orjson.dumps(make("mention", author_id=DROP)), "mention", LIMIT)
    assert isinstance(result, Rejection)
    assert (result.reason, result.event_id) == ("schema_violation", "tw-1")
    unreadable = decode_event(orjson.dumps(make("mention", event_id=5)), "mention", LIMIT)
    assert isinstance(unreadable, Rejection)
    assert unreadable.event_id is None


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        # 2017-10-31T00:00Z: 17470 days after the epoch (47 years incl. 12 leap days = 17167,
        # + 303 days Jan..Oct 30) * 86400 = 1509408000.
        # +01:00 -> 21:10:47Z: 1509408000 + 21*3600 + 10*60 + 47 = 1509484247
        ("2017-10-31T22:10:47+01:00", 1509484247.0),
        # 22:10:47Z: 1509408000 + 79200 + 647 = 1509487847
        ("2017-10-31T22:10:47Z", 1509487847.0),
        ("2017-10-31T22:10:47-00:00", 1509487847.0),
        ("2017-10-31t22:10:47.5z", 1509487847.5),
        # -04:30 -> 17:40:47 + 4:30 = 22:10:47Z
        ("2017-10-31T17:40:47-04:30", 1509487847.0),
        # 2016-02-29: 46 years incl. 11 leap days = 16801 days, + 59 (Jan 31 + Feb 28) = 16860
        ("2016-02-29T00:00:00Z", 16860 * 86400.0),
        ("1970-01-01T00:00:00Z", 0.0),
        ("1969-12-31T23:59:59Z", -1.0),
    ],
)
def test_occurred_ts(occurred_at: str, expected: float) -> None:
    event = decode_event(orjson.dumps(make("mention", occurred_at=occurred_at)), "mention", LIMIT)
    assert isinstance(event, Mention)
    assert event.occurred_ts == expected


def test_trailing_newline_in_timestamp_is_rejected() -> None:
    # ECMA 262 `$` (the regex dialect JSON Schema specifies) matches only at the end, so
    # "...Z\n" breaks the pattern. The code rejects it. (The Python jsonschema library uses
    # `re.search`, whose `$` also matches before a final newline, so it would accept it:
    # a library quirk, not a contract difference, hence not in the agreement corpus.)
    doc = make("mention", occurred_at="2017-10-31T22:10:47Z\n")
    result = decode_event(orjson.dumps(doc), "mention", LIMIT)
    assert isinstance(result, Rejection)
    assert result.reason == "schema_violation"


def test_schema_examples_decode() -> None:
    # the examples shipped inside each schema file are valid events of their type
    for event_type in TYPES:
        for example in SCHEMA_DOCS[f"{event_type}.schema.json"]["examples"]:
            assert schema_valid(event_type, example)
            assert decoded_valid(event_type, example)
