"""What a worker must export per brand for a Twitter support CSV, derived independently.

`tests/integration/test_twitter_support_import.py` imports the sample with
`socialcare import-twcs` and compares the worker's metrics with `expected_per_brand`. That
function reads the CSV with the standard library only and re-derives threads, brands and
first responses from the documented rules (`processor/ingest/twitter_support.py` module docstring,
`docs/metrics.md`); it calls nothing of the importer except the DM phrase matcher, which is
passed in (it has its own unit tests).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

_NUMBER = re.compile(r"[0-9]{1,64}")
_HANDLE = re.compile(r"@([A-Za-z0-9_]+)")


@dataclass(frozen=True)
class Post:
    """One readable CSV row."""

    row: int  # data record number, from 1
    tweet_id: str
    author_id: str
    inbound: bool
    at: datetime
    text: str
    parent: str | None

    @property
    def by_brand_account(self) -> bool:
        """Brand accounts are names; customers are anonymised numbers."""
        return not self.inbound and not self.author_id.isdigit()


@dataclass
class BrandFigures:
    """The expected metrics of one brand (channel "twitter")."""

    conversations: int = 0
    mentions: int = 0
    replies: int = 0
    redirections: int = 0
    first_responses: list[float] = field(default_factory=list)  # seconds, one per answered

    def bucket(self, le: float) -> int:
        """Cumulative histogram bucket: first responses of at most `le` seconds."""
        return sum(1 for seconds in self.first_responses if seconds <= le)


@dataclass
class Reference:
    """`expected_per_brand`'s result: figures per brand and what it left out, for messages."""

    brands: dict[str, BrandFigures]
    unreadable_rows: list[int]
    skipped_threads: list[str]  # top tweet ids of threads that give no conversation
    replies_before_opening: list[str]  # tweet ids (see `expected_per_brand`)


def _parent(value: str) -> str | None:
    """`in_response_to_tweet_id`: empty, a number, or a number written as a float (`12.0`)."""
    value = value.strip()
    whole, dot, fraction = value.partition(".")
    if dot and fraction and set(fraction) == {"0"}:
        value = whole
    if not value:
        return None
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"in_response_to_tweet_id {value!r}")
    return value


def _read(path: Path) -> tuple[list[Post], list[int]]:
    """The readable posts in file order, and the numbers of the rows that are not."""
    posts: list[Post] = []
    unreadable: list[int] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for row, record in enumerate(csv.DictReader(stream), start=1):
            try:
                tweet_id = record["tweet_id"].strip()
                author_id = record["author_id"].strip()
                inbound = record["inbound"].strip().lower()
                at = datetime.strptime(record["created_at"].strip(), "%a %b %d %H:%M:%S %z %Y")
                parent = _parent(record["in_response_to_tweet_id"])
                readable = (
                    None not in record
                    and _NUMBER.fullmatch(tweet_id) is not None
                    and tweet_id not in seen
                    and 0 < len(author_id) <= 256
                    and inbound in ("true", "false")
                    and len(record["text"]) <= 20_000
                )
            except (AttributeError, TypeError, ValueError):  # a missing field reads as None
                readable = False
            if not readable:
                unreadable.append(row)
                continue
            seen.add(tweet_id)
            posts.append(
                Post(row, tweet_id, author_id, inbound == "true", at, record["text"], parent)
            )
    return posts, unreadable


def _threads(posts: list[Post]) -> dict[str, list[Post]]:
    """Posts grouped by the top of their thread; posts in or under a reply cycle left out.

    The top is found by following the parents upwards; a parent missing from the file
    ends the chain, and the post that points at it is the top.
    """
    by_id = {post.tweet_id: post for post in posts}
    threads: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        current, visited = post, {post.tweet_id}
        while current.parent is not None and current.parent in by_id:
            current = by_id[current.parent]
            if current.tweet_id in visited:
                break  # a cycle: this post has no top
            visited.add(current.tweet_id)
        else:
            threads[current.tweet_id].append(post)
    return threads


def _segments(ordered: list[Post], ttl: float) -> list[list[Post]]:
    """The thread cut where a post comes more than `ttl` seconds after the previous one."""
    segments: list[list[Post]] = []
    for post in ordered:
        if not segments or (post.at - segments[-1][-1].at).total_seconds() > ttl:
            segments.append([])
        segments[-1].append(post)
    return segments


def expected_per_brand(
    path: Path, is_redirect_to_dm: Callable[[str], bool], ttl: float = 30 * 86400.0
) -> Reference:
    """Per brand, what a worker must count after importing the CSV at `path`.

    The rules followed:
    - Rows: read with `csv`; a row is left out when it has extra fields, a `tweet_id` that
      is not a number or repeats an earlier one, an empty or over-256-character
      `author_id`, `inbound` other than true/false (any case), an unreadable `created_at`
      (`Tue Oct 31 22:10:47 +0000 2017`), a non-numeric `in_response_to_tweet_id` (a
      trailing `.0` is dropped) or a text over 20,000 characters.
    - Threads: posts linked by `in_response_to_tweet_id`; the top is reached by following
      parents; a missing parent breaks the chain (the post pointing at it is the top).
      Posts in or under a reply cycle are left out.
    - The root (the conversation) is the top if it is a customer post, else the earliest
      customer post of the thread (ties: file order). A thread without a customer post
      gives nothing.
    - Brand: the author of the earliest outbound post by a brand account (an author that is
      not all digits; ties: file order); without one, the first `@handle` of the root's
      text that is a brand account anywhere in the file (any case, spelled as the account
      spells itself); without one, the thread gives nothing.
    - Per conversation, labelled with its brand: every customer post is a mention, every
      outbound post a (human, public) reply, and a reply that `is_redirect_to_dm` is also a
      redirection to "dm".
    - A thread is one conversation, except that a post more than `ttl` (the conversation
      TTL, 30 days by default) after the thread's previous post starts a new one: each such
      segment is opened by its earliest customer post, if it has one.
    - First response (24/7 clock, no business hours): from the earliest customer post of
      the thread (the opening) to the earliest brand reply at or after it; replies stamped
      before the opening are counted as replies but never as the response.
    - `replies_before_opening` lists the replies that answer the root directly but are
      stamped before the opening: a worker that has seen the opening dead-letters them
      (`reply_before_mention`), so a test must know whether the file holds any.
    """
    posts, unreadable = _read(path)
    brand_accounts: dict[str, str] = {}
    for post in posts:
        if post.by_brand_account:
            brand_accounts.setdefault(post.author_id.lower(), post.author_id)

    reference = Reference(defaultdict(BrandFigures), unreadable, [], [])
    for top_id, members in _threads(posts).items():
        ordered = sorted(members, key=lambda post: (post.at, post.row))
        customer_posts = [post for post in ordered if post.inbound]
        if not customer_posts:
            reference.skipped_threads.append(top_id)
            continue
        top = next(post for post in members if post.tweet_id == top_id)
        root = top if top.inbound else customer_posts[0]
        brand = next((post.author_id for post in ordered if post.by_brand_account), None)
        if brand is None:
            handles = (brand_accounts.get(h.lower()) for h in _HANDLE.findall(root.text))
            brand = next((account for account in handles if account is not None), None)
        if brand is None:
            reference.skipped_threads.append(top_id)
            continue

        figures = reference.brands[brand]
        replies = [post for post in ordered if not post.inbound]
        figures.mentions += len(customer_posts)
        figures.replies += len(replies)
        figures.redirections += sum(1 for post in replies if is_redirect_to_dm(post.text))
        for segment in _segments(ordered, ttl):
            openings = [post for post in segment if post.inbound]
            if not openings:
                continue
            figures.conversations += 1
            opened_at = openings[0].at
            answers = [post for post in segment if not post.inbound]
            reference.replies_before_opening += [
                post.tweet_id
                for post in answers
                if post.parent == root.tweet_id and post.at < opened_at
            ]
            first = next((post.at for post in answers if post.at >= opened_at), None)
            if first is not None:
                figures.first_responses.append((first - opened_at).total_seconds())
    reference.brands = dict(reference.brands)
    return reference
