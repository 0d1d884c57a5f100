"""A conversation's thread, walked one post at a time.

The metrics of a conversation follow its posts in event time: who waits for whom, when the
first response came, when it was resolved and how. `ThreadWalk` holds the running position
of that walk (a fixed handful of numbers), so a post that comes after every post seen so
far (the common case in time-aligned input) is one `step`; a post out of order replays only
the posts that may still change (`processor.domain.conversation` keeps them in its tail).

A step emits the items it completes (a customer wait answered or stopped, a resolution);
`ending` adds what the clock alone decides at the end (inactivity, the wait still open).
"""

from __future__ import annotations

from typing import Any

# A mark is a post or a resolving reply: (event time, code). Codes: "c" a customer post,
# "b" an automated brand reply, "h<team>" a human reply by <team>, "r" a resolving reply.
Mark = tuple[float, str] | list[Any]
CUSTOMER, BOT, HUMAN, RESOLVE = "c", "b", "h", "r"
# At one instant: the customer's post first, then the brand's replies, then resolutions;
# human replies by team name, so the team of a moment is its last reply's (the greatest).
_ORDER = {CUSTOMER: 0, BOT: 1, HUMAN: 1, RESOLVE: 2}

# An item: ("wait", start, answered at | None) a customer wait and the human reply that
# ended it (None: still waiting at the end); ("stopped", start, resolved at) a wait that a
# resolution ended before any reply; ("resolution", at, "explicit" | "inactivity").
Item = tuple[str, float, Any]


def mark_key(mark: Mark) -> tuple[float, int, str]:
    """The order of marks in the walk."""
    code: str = mark[1]
    return (mark[0], _ORDER[code[0]], code)


class ThreadWalk:
    """The walk of a thread up to its last stepped mark."""

    __slots__ = (
        "answered", "awaiting_customer_since", "brand", "customer", "first_resolution_at",
        "first_resolution_team", "first_response_at", "first_response_team", "humans",
        "inactivity", "last", "last_human", "last_team", "longest_wait", "open_now", "opened_at",
        "pending", "reopens", "resolutions", "unanswered", "waiting_since",
    )  # fmt: skip

    def __init__(self, opened_at: float | None = None, inactivity: float = 0.0) -> None:
        self.opened_at = opened_at  # marks before it only name the team of a moment
        self.inactivity = inactivity
        self.last: tuple[float, int, str] | None = None  # key of the last stepped mark
        self.last_team = "unassigned"
        self.first_response_at: float | None = None
        self.first_response_team = "unassigned"
        self.first_resolution_at: float | None = None
        self.first_resolution_team = "unassigned"
        self.resolutions = 0
        self.reopens = 0
        self.open_now = True
        self.waiting_since: float | None = None  # the customer waits for a next response
        self.last_human: float | None = None  # the episode's last post, if a human reply
        self.unanswered = 0
        self.answered = 0  # customer posts followed by a human reply
        # Posts until the first resolution (frozen by it): customer, brand, human replies.
        self.customer = self.brand = self.humans = 0
        self.awaiting_customer_since: float | None = None  # set by `ending` only
        # The longest wait for a next response so far, answered or stopped (seconds).
        self.longest_wait = 0.0
        # Stopped waits whose SLA outcome the clock may still decide: [start, stopped at,
        # deadline]; kept by the conversation, which knows the deadlines.
        self.pending: list[list[float]] = []

    def step(self, mark: Mark, out: list[Item]) -> None:
        """Walk one mark that comes after every mark walked so far; completed items to `out`."""
        at: float = mark[0]
        code: str = mark[1]
        kind = code[0]
        self.last = mark_key(mark)
        if kind == HUMAN:
            self.last_team = code[1:]
        if self.opened_at is None or at < self.opened_at:
            return
        if kind == CUSTOMER:
            last_human = self.last_human
            if (
                last_human is not None
                and self.inactivity > 0
                and at - last_human >= self.inactivity
            ):
                # The customer stayed silent long enough: resolved at the last reply.
                self._resolve(last_human, "inactivity", out)
            self.last_human = None
            self.unanswered += 1
            if not self.resolutions:
                self.customer += 1
            if not self.open_now:
                self.reopens += 1
                self.open_now = True
            if self.first_response_at is not None and self.waiting_since is None:
                self.waiting_since = at
        elif kind == HUMAN:
            self.answered += self.unanswered
            self.unanswered = 0
            if not self.resolutions:
                self.brand += 1
                self.humans += 1
            if self.first_response_at is None:
                self.first_response_at = at
                self.first_response_team = self.last_team
            elif at == self.first_response_at:
                self.first_response_team = self.last_team  # simultaneous replies: the last
            elif self.waiting_since is not None:
                out.append(("wait", self.waiting_since, at))
                self._waited(at)
            self.last_human = at if self.open_now else None
        elif kind == BOT:
            if not self.resolutions:
                self.brand += 1
        elif self.open_now:  # an explicit resolution
            self._resolve(at, "explicit", out)
            self.last_human = None
            if self.waiting_since is not None:
                out.append(("stopped", self.waiting_since, at))
                self._waited(at)

    def _waited(self, until: float) -> None:
        """The customer's wait for a next response ends at `until`."""
        assert self.waiting_since is not None
        self.longest_wait = max(self.longest_wait, until - self.waiting_since)
        self.waiting_since = None

    def _resolve(self, at: float, how: str, out: list[Item]) -> None:
        out.append(("resolution", at, how))
        self.open_now = False
        self.resolutions += 1
        if self.resolutions == 1:
            self.first_resolution_at = at
            self.first_resolution_team = self.last_team

    def ending(self, horizon: float, out: list[Item]) -> ThreadWalk:
        """The walk as the clock at `horizon` leaves it, its items to `out`: itself when the
        clock changes nothing of it, else a copy (the walk itself never ends)."""
        if self.opened_at is None:
            return self
        end = self
        if self.last_human is not None and self.inactivity > 0:
            end = self.clone(share_pending=True)
            if self._inactive_by(horizon):
                end._resolve(end.last_human, "inactivity", out)  # type: ignore[arg-type]
            else:
                end.awaiting_customer_since = end.last_human
        if end.waiting_since is not None:
            out.append(("wait", end.waiting_since, None))
        return end

    def _inactive_by(self, horizon: float) -> bool:
        """The customer has been silent after a human reply for the inactivity period."""
        last_human = self.last_human
        return (
            last_human is not None
            and self.inactivity > 0
            and (horizon - last_human >= self.inactivity)
        )

    def first_resolution_by(self, horizon: float) -> float | None:
        """The first resolution as the clock at `horizon` sees it (an inactivity one once
        due), without ending the walk."""
        if self.first_resolution_at is not None:
            return self.first_resolution_at
        return self.last_human if self._inactive_by(horizon) else None

    def resolutions_by(self, horizon: float) -> int:
        """Resolutions as the clock at `horizon` sees them (an inactivity one once due)."""
        return self.resolutions + (1 if self._inactive_by(horizon) else 0)

    def clone(self, share_pending: bool = False) -> ThreadWalk:
        # Attribute by attribute: a loop over __slots__ with getattr/setattr costs 3x.
        copy = ThreadWalk.__new__(ThreadWalk)
        copy.opened_at = self.opened_at
        copy.inactivity = self.inactivity
        copy.last = self.last
        copy.last_team = self.last_team
        copy.first_response_at = self.first_response_at
        copy.first_response_team = self.first_response_team
        copy.first_resolution_at = self.first_resolution_at
        copy.first_resolution_team = self.first_resolution_team
        copy.resolutions = self.resolutions
        copy.reopens = self.reopens
        copy.open_now = self.open_now
        copy.waiting_since = self.waiting_since
        copy.last_human = self.last_human
        copy.unanswered = self.unanswered
        copy.answered = self.answered
        copy.customer = self.customer
        copy.brand = self.brand
        copy.humans = self.humans
        copy.awaiting_customer_since = self.awaiting_customer_since
        copy.longest_wait = self.longest_wait
        copy.pending = self.pending if share_pending else [list(e) for e in self.pending]
        return copy

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ThreadWalk):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def walked_nothing(self) -> bool:
        """No mark at or after the opening was walked: the opening may still move."""
        return (
            self.first_response_at is None
            and self.resolutions == 0
            and self.unanswered == 0
            and self.customer == 0
            and self.brand == 0
            and not self.pending
        )

    # -- stored form: a positional list (it is written with every change) --------------------

    def to_json(self) -> list[Any]:
        return [
            self.opened_at, self.inactivity, self.last, self.last_team,
            self.first_response_at, self.first_response_team, self.first_resolution_at,
            self.first_resolution_team, self.resolutions, self.reopens, self.open_now,
            self.waiting_since, self.last_human, self.unanswered, self.answered,
            self.customer, self.brand, self.humans, list(self.pending), self.longest_wait,
        ]  # fmt: skip

    @classmethod
    def from_json(cls, values: list[Any]) -> ThreadWalk:
        walk = cls.__new__(cls)
        (
            walk.opened_at, walk.inactivity, last, walk.last_team,
            walk.first_response_at, walk.first_response_team, walk.first_resolution_at,
            walk.first_resolution_team, walk.resolutions, walk.reopens, walk.open_now,
            walk.waiting_since, walk.last_human, walk.unanswered, walk.answered,
            walk.customer, walk.brand, walk.humans, pending,
        ) = values[:19]  # fmt: skip
        # Written before the longest wait was kept: 0 until a wait ends.
        walk.longest_wait = values[19] if len(values) > 19 else 0.0
        walk.last = None if last is None else (last[0], last[1], last[2])
        walk.awaiting_customer_since = None
        walk.pending = [list(entry) for entry in pending]
        return walk
