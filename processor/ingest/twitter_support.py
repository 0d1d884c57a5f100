"""Convert the "Customer Support on Twitter" (TWCS) CSV into v1 events.

The input is the data set's own CSV (`tweet_id, author_id, inbound, created_at, text,
response_tweet_id, in_response_to_tweet_id`, see `../shared/README.md`), read with the
standard library `csv` module (quoted fields may hold commas, quotes, newlines and emoji).
`read_twcs(path)` returns the events (dicts ready for JSON, sorted by `occurred_at`) and an
`ImportReport` with the counts. The rules, in the order they apply:

Reading rows
  - Row numbers count data records from 1, the header excluded (a text with newlines spans
    several lines of the file but is one row).
  - `inbound` is `True` or `False` in any letter case (`TRUE`, `true`, ...), surrounding
    blanks ignored. `created_at` is Twitter's `Tue Oct 31 22:10:47 +0000 2017` (English day
    and month names, any letter case; the day name is not checked), converted to UTC.
  - `in_response_to_tweet_id` is one id or empty (a trailing `.0`, as written by tools that
    read the column as a float, is dropped). `response_tweet_id` (several ids separated by
    commas) is not used: the same links are read from the children's
    `in_response_to_tweet_id`.
  - A row is skipped, with its row number and a reason in `ImportReport.skipped`, when it
    has too few or too many fields, a `tweet_id` that is not a number (1-64 digits) or that
    an earlier row already used, an empty or over-256-character `author_id`, an `inbound`
    value other than true/false, an unreadable `created_at`, an `in_response_to_tweet_id`
    that is not a number, or a text longer than 20,000 characters. A skipped row is absent for what
    follows: posts that answer it have a missing parent.

Threads
  - Posts are linked by `in_response_to_tweet_id`; a thread is the tree these links form.
    Its top is reached by following the parents upwards. When a parent is missing from the
    file (cut at the edge of the sample, or skipped), the chain is broken and the earliest
    post of the broken chain present in the file (the one whose parent is missing) is the
    top; every kept post whose parent is missing counts in `ImportReport.orphans`.
    Posts whose parent links form a cycle are skipped ("reply cycle").
  - The root of the conversation is the top when the top is inbound (a customer post).
    When the top is a brand post (outbound, e.g. a broadcast that customers answered), the
    root is the first inbound post of the whole thread by time (ties: file order); the
    brand posts before it are still replies in that conversation. A thread without any
    inbound post is skipped ("no inbound post in thread").
  - `conversation_id` is `twcs-<tweet_id of the root>`; one thread is one conversation.

Brand
  - Brand accounts are the authors of outbound posts whose `author_id` is not all digits,
    anywhere in the file (customers are anonymised numbers).
  - The brand of a thread is the brand account that answers in it: the author of its first
    outbound post by time (ties: file order). So a customer post naming two brands belongs
    to the brand that answers it; posts of a second brand in the same thread stay replies of
    that conversation with their own `agent_id`.
  - With no brand post in the thread, the brand is the first `@handle` in the root's text
    that is a brand account (compared without regard to letter case, written as the account
    spells itself). With none, every row of the thread is skipped ("no brand ...").

Events (every event: `schema_version` 1, `channel` "twitter", `occurred_at` the post's
`created_at` as RFC 3339 UTC with `Z`, `conversation_id` and `brand` of its thread)
  - inbound post -> `mention`: `event_id` `twcs-<tweet_id>`, `author_id`, `text`,
    `in_reply_to` `twcs-<in_response_to_tweet_id>` (also when that parent is missing from
    the file) or null.
  - outbound post -> `reply`: `event_id` `twcs-<tweet_id>`, `agent_id` the posting brand
    account (the thread's brand if the author is a number), `team` null, `in_reply_to` as
    above, `text`, `public` true, `automated` false, `resolves` false.
  - outbound post for which `is_redirect_to_dm(text)` holds -> also a `redirection`:
    `event_id` `twcs-<tweet_id>-dm`, `to_channel` "dm", the same `agent_id`, `reason` null,
    at the same time in the same conversation.
  - Events are sorted by `occurred_at`, stable (file order, a redirection right after its
    reply, for equal times).

Redirection to DM (`is_redirect_to_dm(text)`, letter case ignored; below, "DM" stands for
DM, PM, direct message or private message, and "DM'd" is not a match)
  - yes, the brand asks the customer to write privately:
    "DM/PM us", "DM me", "DM my team", "DM our ...", "direct/private message us",
    "DM please"; "send/sending/shoot/drop (us/me/my team) a DM";
    "please / pls / kindly / can you / could you / would you / will you / you can /
    feel free to / go ahead and / don't hesitate to / and" followed by
    "(please) (follow (us) and|&|/) DM"; "follow and DM", "follow/DM";
    "(please/pls) DM/PM" at the start of the text or after . ! ? : ; or a newline
    (not "DM's", "DM means/is/was");
    "so we can DM you", "so we can send you a DM";
  - yes, the brand moves the conversation itself: "sent you a DM", "sent a DM your way",
    "check your DMs";
  - yes, "via / through / in / into / to / over / by (a) DM(s)" ("join us in a DM",
    "meet us in DM", "go to DM", "share ... via DMs", "through direct message", "will be
    in touch through DM"), unless the same sentence (text since the last . ! ? or newline)
    before it says it already happened: replied, responded, answered, received, got, saw,
    seen, sent, been, followed, "has/have respond/reply" ("we've replied via DM",
    "we have followed up via DM", "we've been in touch via DM");
  - no, anything else, in particular the acknowledgements of a DM the customer already
    sent ("we saw/received your DM", "I see your DM", "replied/responded to your DM",
    "thanks for the DM") and other uses of the word ("DM means direct message",
    "we're just a DM away").
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

__all__ = ["ImportReport", "is_redirect_to_dm", "read_twcs"]

COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
CHANNEL = "twitter"
PREFIX = "twcs-"
MAX_TEXT = 20_000

_ID = re.compile(r"^[0-9]{1,64}$")
_FLOAT_ID = re.compile(r"^([0-9]{1,64})\.0+$")
_HANDLE = re.compile(r"@([A-Za-z0-9_]+)")
_BRAND_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_CREATED_AT = re.compile(
    r"^(?:mon|tue|wed|thu|fri|sat|sun)\s+([a-z]{3})\s+([0-9]{1,2})\s+"
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})\s+([+-])([0-9]{2})([0-9]{2})\s+([0-9]{4})$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ImportReport:
    """Counts of one import, for the CLI and the tests."""

    rows: int
    events: int
    conversations: int
    mentions: int
    replies: int
    redirections: int
    orphans: int  # kept posts whose parent is missing from the file
    skipped: list[tuple[int, str]]  # (row number, reason) for rows that give no event


@dataclass(frozen=True)
class _Post:
    row: int
    tweet_id: str
    author_id: str
    inbound: bool
    at: datetime
    text: str
    parent: str | None


# -- redirection to a private channel ------------------------------------------------------

# "DM" and its synonyms; `(?!['’]?d\b)` keeps "DM'd" out, `s?` takes "DMs".
_DM = r"(?:dm|pm|direct\s+message|private\s+message|private\s+msg)"
_DM_WORD = rf"\b{_DM}\b(?!['’]d\b)"
_DMS = r"(?:dm|pm|direct\s+message|private\s+message)(?:s|['’]s)?"
_FOLLOW = r"(?:follow(?:\s+us)?\s*(?:,\s*)?(?:and|&amp;|&|/|,)\s*)"
_CUE = (
    r"(?:please|pls|plz|kindly|can\s+you|could\s+you|would\s+you|will\s+you|you\s+can|"
    r"feel\s+free\s+to|go\s+ahead\s+and|(?:do\s+not|don['’]t)\s+hesitate\s+to|and)"
)
_PAST = (
    r"\b(?:replied|responded|answered|received|got|saw|seen|sent|been|fol+o?w+ed|"
    r"(?:has|have|had|['’]ve)\s+(?:respond|reply))\b"
)

_ASKS = [
    # DM us / DM me / PM us / DM my team / DM our friends
    re.compile(r"\b(?:dm|pm)\s+(?:us|me|my|our)\b", re.IGNORECASE),
    # "Yes, DM please."
    re.compile(r"\bdm\s+(?:please|pls|plz)\b", re.IGNORECASE),
    # direct message us / private message me
    re.compile(r"\b(?:direct|private)\s+message\s+(?:us|me)\b", re.IGNORECASE),
    # please DM ..., can you DM ..., please follow and DM ..., Pls, DM ..., pls follow/DM
    re.compile(rf"\b{_CUE}\s*,?\s+(?:please\s+)?{_FOLLOW}?{_DM_WORD}", re.IGNORECASE),
    # follow and DM (without a cue word)
    re.compile(rf"\b{_FOLLOW}{_DM_WORD}", re.IGNORECASE),
    # send us a DM / shoot me a DM / send a DM / sending a DM / send me a private message
    re.compile(
        rf"\b(?:send|sending|shoot|shooting|drop)\s+(?:(?:us|me|my\s+team|our\s+team)\s+)?"
        rf"(?:a|an)\s+(?:quick\s+)?{_DM_WORD}",
        re.IGNORECASE,
    ),
    # a sentence that starts with DM: "DM us ...", "DM w/ any questions!"
    re.compile(
        r"(?:^|[.!?:;]\s+|\n\s*)(?:please\s+|pls\s+)?(?:dm|pm)\b(?!['’]|\s+(?:means|is|was)\b)",
        re.IGNORECASE,
    ),
    # so we can DM you / so I can send you a direct message
    re.compile(
        rf"\bso\s+(?:that\s+)?(?:we|i)\s+(?:can|could|may)\s+"
        rf"(?:{_DM}\s+you|send\s+you\s+(?:a|an)\s+{_DM_WORD})",
        re.IGNORECASE,
    ),
]
# "via DM", "in a DM", "join us in DM", "go to DM", "through direct message": a request
# unless the same sentence says the brand already replied there ("we've replied via DM").
_INTO_DM = re.compile(
    rf"\b(?:via|through|in|into|to|over|by)\s+(?:a\s+|an\s+)?{_DMS}(?![A-Za-z0-9'’])",
    re.IGNORECASE,
)
_BRAND_MOVED = [
    # We have sent you a DM / Just sent you a Direct Message / We just sent you a DM
    re.compile(rf"\bsent\s+you\s+(?:a|an)\s+{_DM_WORD}", re.IGNORECASE),
    # We've just sent a DM your way
    re.compile(rf"\bsent\s+(?:a|an)\s+{_DM_WORD}\s+your\s+way", re.IGNORECASE),
    # Please check your DMs / DM's
    re.compile(rf"\bcheck\s+(?:your|ur)\s+{_DMS}(?![A-Za-z0-9])", re.IGNORECASE),
]
_SENTENCE_START = re.compile(r"[.!?\n]")


def is_redirect_to_dm(text: str) -> bool:
    """Whether a brand post moves the customer to a private channel (DM); rules above."""
    if any(pattern.search(text) for pattern in _ASKS):
        return True
    if any(pattern.search(text) for pattern in _BRAND_MOVED):
        return True
    for match in _INTO_DM.finditer(text):
        before = text[: match.start()]
        sentence = _SENTENCE_START.split(before)[-1]
        if not re.search(_PAST, sentence, re.IGNORECASE):
            return True
    return False


# -- reading -----------------------------------------------------------------------------


def _parse_created_at(value: str) -> datetime | None:
    match = _CREATED_AT.match(value.strip())
    if match is None:
        return None
    month_name, day, hour, minute, second, sign, off_h, off_m, year = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    try:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
        local = datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=tz)
    except ValueError:
        return None
    return local.astimezone(UTC)


def _parse_id(value: str) -> str | None:
    value = value.strip()
    float_form = _FLOAT_ID.match(value)
    if float_form is not None:
        value = float_form.group(1)
    return value if _ID.match(value) else None


def _read_post(row_number: int, record: dict[str | None, object]) -> _Post | str:
    """One CSV record as a post, or the reason it cannot be read."""
    if record.get(None) is not None:
        return "too many fields"
    values: dict[str, str] = {}
    for column in COLUMNS:
        value = record.get(column)
        if not isinstance(value, str):
            return f"too few fields (no {column})"
        values[column] = value
    tweet_id = values["tweet_id"].strip()
    if not _ID.match(tweet_id):
        return f"tweet_id {values['tweet_id']!r} is not a number"
    author_id = values["author_id"].strip()
    if not author_id or len(author_id) > 256:
        return "author_id is empty" if not author_id else "author_id is too long"
    inbound_text = values["inbound"].strip().lower()
    if inbound_text not in ("true", "false"):
        return f"inbound {values['inbound']!r} is neither True nor False"
    at = _parse_created_at(values["created_at"])
    if at is None:
        return f"unreadable created_at {values['created_at']!r}"
    parent: str | None = None
    if values["in_response_to_tweet_id"].strip():
        parent = _parse_id(values["in_response_to_tweet_id"])
        if parent is None:
            return f"in_response_to_tweet_id {values['in_response_to_tweet_id']!r} is not a number"
    if len(values["text"]) > MAX_TEXT:
        return f"text longer than {MAX_TEXT} characters"
    return _Post(
        row=row_number,
        tweet_id=tweet_id,
        author_id=author_id,
        inbound=inbound_text == "true",
        at=at,
        text=values["text"],
        parent=parent,
    )


def _read_rows(path: Path) -> tuple[int, list[_Post], list[tuple[int, str]]]:
    posts: list[_Post] = []
    skipped: list[tuple[int, str]] = []
    first_row: dict[str, int] = {}
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise ValueError(f"{path}: not a TWCS file, missing columns {', '.join(missing)}")
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                rows += 1
                skipped.append((rows, f"unreadable CSV record: {error}"))
                continue
            rows += 1
            post = _read_post(rows, record)
            if isinstance(post, str):
                skipped.append((rows, post))
            elif post.tweet_id in first_row:
                first = first_row[post.tweet_id]
                skipped.append((rows, f"duplicate tweet_id {post.tweet_id} (first in row {first})"))
            else:
                first_row[post.tweet_id] = rows
                posts.append(post)
    return rows, posts, skipped


# -- threads -----------------------------------------------------------------------------


def _tops(by_id: dict[str, _Post]) -> tuple[dict[str, str], set[str]]:
    """The top of every post's thread, and the posts caught in (or under) a reply cycle."""
    top: dict[str, str] = {}
    cyclic: set[str] = set()
    for start in by_id:
        chain: list[str] = []
        on_chain: set[str] = set()
        current = start
        result: str | None = None
        broken = False
        while True:
            if current in top:
                result = top[current]
                break
            if current in cyclic or current in on_chain:
                broken = True
                break
            chain.append(current)
            on_chain.add(current)
            parent = by_id[current].parent
            if parent is None or parent not in by_id:
                result = current
                break
            current = parent
        if broken or result is None:
            cyclic.update(chain)
        else:
            for post_id in chain:
                top[post_id] = result
    return top, cyclic


def _is_brand_account(author_id: str) -> bool:
    return not author_id.isdigit()


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref(tweet_id: str | None) -> str | None:
    return None if tweet_id is None else PREFIX + tweet_id


def read_twcs(path: Path) -> tuple[list[dict[str, object]], ImportReport]:
    """Read a TWCS CSV file into v1 events (sorted by time) and the import's counts."""
    rows, posts, skipped = _read_rows(path)
    by_id = {post.tweet_id: post for post in posts}
    top, cyclic = _tops(by_id)
    brand_accounts: dict[str, str] = {}
    for post in posts:
        if not post.inbound and _is_brand_account(post.author_id):
            brand_accounts.setdefault(post.author_id.lower(), post.author_id)

    threads: dict[str, list[_Post]] = defaultdict(list)
    for post in posts:
        if post.tweet_id in cyclic:
            skipped.append((post.row, "reply cycle"))
        else:
            threads[top[post.tweet_id]].append(post)

    def by_time(post: _Post) -> tuple[datetime, int]:
        return post.at, post.row

    tagged: list[tuple[datetime, int, int, dict[str, object]]] = []
    conversations = orphans = mentions = replies = redirections = 0
    for top_id, members in threads.items():
        ordered = sorted(members, key=by_time)
        top_post = by_id[top_id]
        root = top_post if top_post.inbound else next((p for p in ordered if p.inbound), None)
        if root is None:
            skipped.extend((p.row, f"no inbound post in thread {PREFIX}{top_id}") for p in members)
            continue
        answering = next(
            (p for p in ordered if not p.inbound and _is_brand_account(p.author_id)), None
        )
        brand: str | None = None
        if answering is not None:
            brand = answering.author_id
        else:
            for handle in _HANDLE.findall(root.text):
                brand = brand_accounts.get(handle.lower())
                if brand is not None:
                    break
        if brand is None:
            reason = f"no brand in thread {PREFIX}{root.tweet_id} (no brand post or @brand)"
            skipped.extend((p.row, reason) for p in members)
            continue
        if not _BRAND_LABEL.match(brand):
            reason = f"brand {brand!r} in thread {PREFIX}{root.tweet_id} is not a valid label"
            skipped.extend((p.row, reason) for p in members)
            continue

        conversations += 1
        common: dict[str, object] = {
            "conversation_id": PREFIX + root.tweet_id,
            "brand": brand,
            "channel": CHANNEL,
            "schema_version": 1,
        }
        for post in members:
            if post.parent is not None and post.parent not in by_id:
                orphans += 1
            occurred_at = _stamp(post.at)
            if post.inbound:
                mentions += 1
                event: dict[str, object] = {
                    "event_id": PREFIX + post.tweet_id,
                    "type": "mention",
                    "occurred_at": occurred_at,
                    **common,
                    "author_id": post.author_id,
                    "text": post.text,
                    "in_reply_to": _ref(post.parent),
                }
                tagged.append((post.at, post.row, 0, event))
                continue
            replies += 1
            agent_id = post.author_id if _is_brand_account(post.author_id) else brand
            event = {
                "event_id": PREFIX + post.tweet_id,
                "type": "reply",
                "occurred_at": occurred_at,
                **common,
                "agent_id": agent_id,
                "team": None,
                "in_reply_to": _ref(post.parent),
                "text": post.text,
                "public": True,
                "automated": False,
                "resolves": False,
            }
            tagged.append((post.at, post.row, 0, event))
            if is_redirect_to_dm(post.text):
                redirections += 1
                redirect: dict[str, object] = {
                    "event_id": f"{PREFIX}{post.tweet_id}-dm",
                    "type": "redirection",
                    "occurred_at": occurred_at,
                    **common,
                    "to_channel": "dm",
                    "agent_id": agent_id,
                    "reason": None,
                }
                tagged.append((post.at, post.row, 1, redirect))

    # Sorted by time; equal times keep file order, a redirection right after its reply.
    tagged.sort(key=lambda item: (item[0], item[1], item[2]))
    events = [item[3] for item in tagged]
    skipped.sort()
    report = ImportReport(
        rows=rows,
        events=len(events),
        conversations=conversations,
        mentions=mentions,
        replies=replies,
        redirections=redirections,
        orphans=orphans,
        skipped=skipped,
    )
    return events, report
