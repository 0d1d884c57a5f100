"""The TWCS importer (`processor.ingest.twitter_support`): threads, brands, events, DM redirections.

A hand-made CSV covers every rule of the module docstring with exact expected events; the
real sample in `../shared/data/` (never copied into the repository) is checked against the
JSON Schemas and for consistent counts when it is present.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from processor.ingest.twitter_support import ImportReport, is_redirect_to_dm, read_twcs
from tests.schemas import validators

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "schemas"
SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "twcs_sample.csv"

HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"

# Rows, numbered from 1 after the header:
#  1-4   thread A: root 100 (True), brand reply asking for a DM, follow-up (TRUE) with a quoted
#        newline and quotes, a reply that only acknowledges a DM (FALSE); 100 lists two
#        responses in response_tweet_id; the root text has a comma and an emoji
#  5-7   thread B: the customer names two brands, BetaCare answers first, AcmeHelp later
#  8     thread C: no brand post, brand from the first known @handle (other letter case),
#        created_at with a +0200 offset
#  9-10  thread D: the parent of 130 is not in the file (orphan root), reply "follow and DM"
#  11-14 thread E: a brand broadcast answered by two customers; the earliest inbound post
#        (142, second in the file) is the root
#  15    thread F: no brand post, no known @handle -> skipped
#  16    unreadable created_at -> skipped
#  17    brand reply to the skipped row 16: a thread without inbound post -> skipped
#  18    inbound "maybe" -> skipped
CSV_TEXT = HEADER + (
    '100,200,True,Tue Oct 31 22:10:47 +0000 2017,"@AcmeHelp my order is late, again 😡",'
    '"101,103",\n'
    "101,AcmeHelp,False,Tue Oct 31 22:12:00 +0000 2017,"
    "@200 Sorry! Please send us a DM with your order number.,102,100\n"
    '102,200,TRUE,Tue Oct 31 22:15:00 +0000 2017,"@AcmeHelp done,\n""sent"" it 👍",,101\n'
    "103,AcmeHelp,FALSE,Tue Oct 31 22:20:00 +0000 2017,@200 We saw your DM. Thanks!,,100\n"
    "110,300,true,Wed Nov 01 08:00:00 +0000 2017,@AcmeHelp @BetaCare who can fix my bill?,"
    '"111,112",\n'
    "111,BetaCare,False,Wed Nov 01 08:05:00 +0000 2017,@300 We can! DM us.,,110\n"
    "112,AcmeHelp,False,Wed Nov 01 08:30:00 +0000 2017,"
    "@300 @BetaCare Looks like BetaCare has you covered.,,110\n"
    "120,400,True,Wed Nov 01 11:00:00 +0200 2017,hey @someone and @betacare my app crashes,,\n"
    "130,500,True,Wed Nov 01 10:00:00 +0000 2017,@AcmeHelp still waiting,131,99\n"
    "131,AcmeHelp,False,Wed Nov 01 10:01:00 +0000 2017,@500 Please follow and DM us. ^JD,,130\n"
    '140,AcmeHelp,False,Mon Oct 30 12:00:00 +0000 2017,Trick or treat? Tell us below!,"141,142",\n'
    "141,600,True,Mon Oct 30 13:00:00 +0000 2017,@AcmeHelp treat,143,140\n"
    "142,700,True,Mon Oct 30 12:30:00 +0000 2017,@AcmeHelp trick!,,140\n"
    "143,AcmeHelp,False,Mon Oct 30 13:05:00 +0000 2017,@600 Here you go 🍬,,141\n"
    "150,800,True,Thu Nov 02 09:00:00 +0000 2017,@nobody hello there,,\n"
    "160,900,True,yesterday,@AcmeHelp hi,161,\n"
    "161,AcmeHelp,False,Thu Nov 02 10:00:00 +0000 2017,@900 Hi there,,160\n"
    "170,901,maybe,Thu Nov 02 11:00:00 +0000 2017,@AcmeHelp hm,,\n"
)


def _mention(
    tweet_id: str, at: str, conversation: str, brand: str, author: str, text: str, parent: str
) -> dict[str, object]:
    return {
        "event_id": f"twcs-{tweet_id}",
        "type": "mention",
        "occurred_at": at,
        "conversation_id": f"twcs-{conversation}",
        "brand": brand,
        "channel": "twitter",
        "schema_version": 1,
        "author_id": author,
        "text": text,
        "in_reply_to": f"twcs-{parent}" if parent else None,
    }


def _reply(
    tweet_id: str, at: str, conversation: str, brand: str, agent: str, text: str, parent: str
) -> dict[str, object]:
    return {
        "event_id": f"twcs-{tweet_id}",
        "type": "reply",
        "occurred_at": at,
        "conversation_id": f"twcs-{conversation}",
        "brand": brand,
        "channel": "twitter",
        "schema_version": 1,
        "agent_id": agent,
        "team": None,
        "in_reply_to": f"twcs-{parent}" if parent else None,
        "text": text,
        "public": True,
        "automated": False,
        "resolves": False,
    }


def _dm(tweet_id: str, at: str, conversation: str, brand: str, agent: str) -> dict[str, object]:
    return {
        "event_id": f"twcs-{tweet_id}-dm",
        "type": "redirection",
        "occurred_at": at,
        "conversation_id": f"twcs-{conversation}",
        "brand": brand,
        "channel": "twitter",
        "schema_version": 1,
        "to_channel": "dm",
        "agent_id": agent,
        "reason": None,
    }


ACME = "AcmeHelp"
BETA = "BetaCare"
EXPECTED: list[dict[str, object]] = [
    # thread E: the broadcast comes first but the conversation is the first customer post
    _reply("140", "2017-10-30T12:00:00Z", "142", ACME, ACME, "Trick or treat? Tell us below!", ""),
    _mention("142", "2017-10-30T12:30:00Z", "142", ACME, "700", "@AcmeHelp trick!", "140"),
    _mention("141", "2017-10-30T13:00:00Z", "142", ACME, "600", "@AcmeHelp treat", "140"),
    _reply("143", "2017-10-30T13:05:00Z", "142", ACME, ACME, "@600 Here you go 🍬", "141"),
    # thread A
    _mention(
        "100",
        "2017-10-31T22:10:47Z",
        "100",
        ACME,
        "200",
        "@AcmeHelp my order is late, again 😡",
        "",
    ),
    _reply(
        "101",
        "2017-10-31T22:12:00Z",
        "100",
        ACME,
        ACME,
        "@200 Sorry! Please send us a DM with your order number.",
        "100",
    ),
    _dm("101", "2017-10-31T22:12:00Z", "100", ACME, ACME),
    _mention(
        "102", "2017-10-31T22:15:00Z", "100", ACME, "200", '@AcmeHelp done,\n"sent" it 👍', "101"
    ),
    _reply("103", "2017-10-31T22:20:00Z", "100", ACME, ACME, "@200 We saw your DM. Thanks!", "100"),
    # thread B: BetaCare answers first, so the thread is BetaCare's
    _mention(
        "110",
        "2017-11-01T08:00:00Z",
        "110",
        BETA,
        "300",
        "@AcmeHelp @BetaCare who can fix my bill?",
        "",
    ),
    _reply("111", "2017-11-01T08:05:00Z", "110", BETA, BETA, "@300 We can! DM us.", "110"),
    _dm("111", "2017-11-01T08:05:00Z", "110", BETA, BETA),
    _reply(
        "112",
        "2017-11-01T08:30:00Z",
        "110",
        BETA,
        ACME,
        "@300 @BetaCare Looks like BetaCare has you covered.",
        "110",
    ),
    # thread C: brand from "@betacare", written as the account spells itself
    _mention(
        "120",
        "2017-11-01T09:00:00Z",
        "120",
        BETA,
        "400",
        "hey @someone and @betacare my app crashes",
        "",
    ),
    # thread D: orphan root, in_reply_to still names the missing parent
    _mention("130", "2017-11-01T10:00:00Z", "130", ACME, "500", "@AcmeHelp still waiting", "99"),
    _reply(
        "131", "2017-11-01T10:01:00Z", "130", ACME, ACME, "@500 Please follow and DM us. ^JD", "130"
    ),
    _dm("131", "2017-11-01T10:01:00Z", "130", ACME, ACME),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "twcs.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


# -- schema validation ----------------------------------------------------------------------


VALIDATORS = validators()


def _schema_errors(events: list[dict[str, object]]) -> list[str]:
    errors: list[str] = []
    for event in events:
        validator = VALIDATORS[str(event["type"])]
        errors.extend(
            f"{event['event_id']}: {error.message}"
            for error in validator.iter_errors(json.loads(json.dumps(event)))
        )
    return errors


# -- the hand-made file ---------------------------------------------------------------------


def test_hand_made_file_gives_the_exact_events(tmp_path: Path) -> None:
    events, _ = read_twcs(_write(tmp_path, CSV_TEXT))
    assert events == EXPECTED


def test_hand_made_file_report(tmp_path: Path) -> None:
    _, report = read_twcs(_write(tmp_path, CSV_TEXT))
    assert report == ImportReport(
        rows=18,
        events=17,
        conversations=5,
        mentions=7,
        replies=7,
        redirections=3,
        orphans=1,
        skipped=report.skipped,
    )
    assert [row for row, _ in report.skipped] == [15, 16, 17, 18]
    reasons = dict(report.skipped)
    assert reasons[15].startswith("no brand in thread twcs-150")
    assert reasons[16] == "unreadable created_at 'yesterday'"
    assert reasons[17] == "no inbound post in thread twcs-161"
    assert reasons[18] == "inbound 'maybe' is neither True nor False"


def test_hand_made_events_validate(tmp_path: Path) -> None:
    events, _ = read_twcs(_write(tmp_path, CSV_TEXT))
    assert _schema_errors(events) == []


def test_events_are_sorted_stably_by_time(tmp_path: Path) -> None:
    text = HEADER + (
        "2,9,True,Tue Oct 31 22:10:47 +0000 2017,@AcmeHelp b,,\n"
        "1,8,True,Tue Oct 31 22:10:47 +0000 2017,@AcmeHelp a,,\n"
        "3,AcmeHelp,False,Tue Oct 31 21:00:00 -0130 2017,@9 DM me,,2\n"
    )
    events, report = read_twcs(_write(tmp_path, text))
    assert [(e["event_id"], e["occurred_at"]) for e in events] == [
        ("twcs-2", "2017-10-31T22:10:47Z"),
        ("twcs-1", "2017-10-31T22:10:47Z"),
        ("twcs-3", "2017-10-31T22:30:00Z"),
        ("twcs-3-dm", "2017-10-31T22:30:00Z"),
    ]
    assert report.conversations == 2


def test_unreadable_rows_are_reported_not_raised(tmp_path: Path) -> None:
    text = HEADER + (
        "1,8,True,Tue Oct 31 22:10:47 +0000 2017,@AcmeHelp a,,\n"
        "1,8,True,Tue Oct 31 22:11:47 +0000 2017,@AcmeHelp again,,\n"  # duplicate id
        "x2,8,True,Tue Oct 31 22:12:47 +0000 2017,@AcmeHelp b,,\n"  # id not a number
        "3,,True,Tue Oct 31 22:13:47 +0000 2017,@AcmeHelp c,,\n"  # no author
        "4,8,True,Tue Feb 30 22:13:47 +0000 2017,@AcmeHelp d,,\n"  # no such day
        "5,8,True,Tue Oct 31 22:14:47 +0000 2017,@AcmeHelp e,,\n"  # too few fields
        "6,8,True,Tue Oct 31 22:15:47 +0000 2017,@AcmeHelp f,,,extra\n"  # too many fields
        "7,AcmeHelp,False,Tue Oct 31 22:16:47 +0000 2017,@8 hi,,1.0\n"  # float-style parent id
    )
    text = text.replace("@AcmeHelp e,,\n", "@AcmeHelp e\n")
    events, report = read_twcs(_write(tmp_path, text))
    assert [e["event_id"] for e in events] == ["twcs-1", "twcs-7"]
    assert events[1]["in_reply_to"] == "twcs-1"
    assert events[1]["conversation_id"] == "twcs-1"
    assert [row for row, _ in report.skipped] == [2, 3, 4, 5, 6, 7]
    reasons = dict(report.skipped)
    assert reasons[2] == "duplicate tweet_id 1 (first in row 1)"
    assert "not a number" in reasons[3]
    assert reasons[4] == "author_id is empty"
    assert "created_at" in reasons[5]
    assert reasons[6].startswith("too few fields")
    assert reasons[7] == "too many fields"
    assert report.rows == report.mentions + report.replies + len(report.skipped)


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing columns"):
        read_twcs(_write(tmp_path, "id,text\n1,hello\n"))


# -- redirection to DM ----------------------------------------------------------------------

REDIRECTS = [
    "@1 Please send us a DM with your order number.",
    "@1 Please send us a Private Message so that we can help.",
    "@1 Can you please send me a private message with the details?",
    "@1 This is sad to hear. Please shoot us a DM. -KC",
    "@1 We'd like you to send us a Direct Message so we can assist. -AA",
    "@1 Can you DM me your name and account number? -JB",
    "@1 Please follow and DM us so that we can look into this order.",
    "@1 Can you follow, and DM us your order number?",
    "@1 Pls follow/DM your confirmation number. *AFM",
    "@1 Pls, DM your confirmation number for assistance.",
    "@1 Please DM your email address and reservation code.",
    "@1 Would you mind following us and sending a DM with your gamertag?",
    "@1 Kindly DM us your booking number.",
    "@1 Please PM us more info so we can follow up.",
    "@1 Hi, can you direct message us and explain the issue?",
    "@1 Select the link to join us in a DM and we'll go from there.",
    "@1 Meet us in DM and we'll continue from there.",
    "@1 Let's go to DM for the next steps.",
    "@1 Please share your record locator via DMs and we can take a look.",
    "@1 Please confirm your email address through direct message so we can assist.",
    "@1 Do you have 10 photos selected? DM w/ any questions!",
    "@1 DM us the iOS version you are running.",
    "@1 Yes dm please.",
    "@1 Could you please follow us so we can DM you again?",
    "@1 Send a DM my way: https://t.co/x",
    "@1 We have sent you a Direct Message via Twitter with further instructions.",
    "@1 Please check your DM's for more instructions.",
    "@1 We've just sent a DM your way. Let's carry on chatting there",
    "@1 PLEASE SEND US A DM",
]

NOT_REDIRECTS = [
    "@1 We saw your DM, thanks!",
    "@1 Help has arrived!! I see your DM!",
    "@1 We have received your DM and will follow up with you there.",
    "@1 I've just responded to your DM, please check your inbox.",
    "@1 Hi there, we've replied to your DM! ^RA",
    "@1 We've replied via DM, please follow up there.",
    "@1 Hello, I have responded via private message. Thanks!",
    "@1 We have followed up via DM.",
    "@1 We've been in touch via DM!",
    "@1 Thank you so much for the DM. We'll be responding shortly!",
    "@1 We've DM'd you.",
    "@1 Good question! DM means direct message!",
    "@1 We can help with that too! We're just a DM away :)",
    "@1 Our carriers deliver until 8 PM, please keep us updated.",
    "@1 Your flight departs at 5:45 pm and arrives at 8:46 pm.",
    "@1 Please contact us by phone or chat here: https://t.co/x",
    "@1 Nope! Still just the $3. -Becky",
    "",
]


@pytest.mark.parametrize("text", REDIRECTS)
def test_redirect_to_dm(text: str) -> None:
    assert is_redirect_to_dm(text)


@pytest.mark.parametrize("text", NOT_REDIRECTS)
def test_not_a_redirect_to_dm(text: str) -> None:
    assert not is_redirect_to_dm(text)


# -- the real sample -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict[str, object]], ImportReport]:
    if not SAMPLE.is_file():
        reason = f"TWCS sample not found at {SAMPLE} (it lives beside the project, in ../shared)"
        print(reason)
        pytest.skip(reason)
    return read_twcs(SAMPLE)


def test_sample_events_validate(sample: tuple[list[dict[str, object]], ImportReport]) -> None:
    events, _ = sample
    assert events
    assert _schema_errors(events) == []


def test_sample_counts_are_consistent(
    sample: tuple[list[dict[str, object]], ImportReport],
) -> None:
    events, report = sample
    kinds = Counter(str(event["type"]) for event in events)
    assert report.mentions + report.replies + report.redirections == report.events == len(events)
    assert (kinds["mention"], kinds["reply"], kinds["redirection"]) == (
        report.mentions,
        report.replies,
        report.redirections,
    )
    assert report.rows == report.mentions + report.replies + len(report.skipped)
    assert len({row for row, _ in report.skipped}) == len(report.skipped)
    conversations = {str(event["conversation_id"]) for event in events}
    assert report.conversations == len(conversations)
    # every conversation is opened by its root mention, and is owned by one brand
    mention_ids = {str(event["event_id"]) for event in events if event["type"] == "mention"}
    assert conversations <= mention_ids
    brands: dict[object, set[object]] = {}
    for event in events:
        brands.setdefault(event["conversation_id"], set()).add(event["brand"])
    assert all(len(owners) == 1 for owners in brands.values())
    assert len({event["event_id"] for event in events}) == len(events)
    times = [str(event["occurred_at"]) for event in events]
    assert times == sorted(times)
