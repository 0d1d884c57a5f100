"""Conversation states stored by the version that kept whole timelines, read as summaries.

Such a document has no `walk`: its posts become the tail (nothing settled), so its
contributions are unchanged.
"""

from __future__ import annotations

from typing import Any

from processor.domain.conversation import ConversationState, _replay, _sentiment
from processor.domain.thread import HUMAN, RESOLVE, Mark, ThreadWalk, mark_key


def upgrade(document: dict[str, Any]) -> ConversationState:
    """The summary of a whole-timeline document (read by `ConversationState.from_json`)."""
    legacy = dict(document)
    legacy.pop("_index", None)
    posts = legacy.pop("posts", [])
    teams = [team for _, team in legacy.pop("reply_teams", [])]
    resolves = legacy.pop("resolves", [])
    redirections = legacy.pop("redirections", [])
    sentiments = legacy.pop("mention_sentiments", [])
    state = ConversationState(**{name: value for name, value in legacy.items()
                                 if name in ConversationState.__dataclass_fields__})  # fmt: skip
    state.surveys = [(kind, score) for kind, score in state.surveys]
    for at, to_channel in redirections:
        earliest = state.redirections.get(to_channel)
        if earliest is None or at < earliest:
            state.redirections[to_channel] = at
    opened_at, state.opened_at = state.opened_at, None
    for at, sentiment in sentiments:
        _sentiment(state, at, sentiment)
        if state.opened_at is None or at < state.opened_at:
            state.opened_at = at
    state.opened_at = opened_at
    human_teams = iter(teams)
    marks: list[Mark] = []
    for at, kind in posts:
        code = HUMAN + next(human_teams, "unassigned") if kind == HUMAN else kind
        marks.append((at, code))
    marks += [(at, RESOLVE) for at in resolves]
    state.tail = sorted(marks, key=mark_key)
    state.settled = ThreadWalk(state.opened_at, state.inactivity_seconds)
    state.walk = _replay(state)[0]
    return state
