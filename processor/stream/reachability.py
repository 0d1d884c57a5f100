"""Whether Redis answers: one log line when it stops, one when it is back, and a gauge.

Every call to Redis reports here. An outage is a state, not an error per call: the worker
keeps counting (the state dedups on its own) and keeps the SLA policies it has, so a
traceback on every refresh would only bury the one line that matters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Reachability:
    """The state of one dependency, from the outcome of the calls made to it."""

    def __init__(
        self,
        name: str,
        while_down: str,
        report: Callable[[bool], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.while_down = while_down
        self._report = report
        self._clock = clock
        self._down_since: float | None = None
        report(True)

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def ok(self) -> None:
        if self._down_since is not None:
            log.warning(
                "%s reachable again after %.0fs", self.name, self._clock() - self._down_since
            )
            self._down_since = None
            self._report(True)

    def failed(self, error: BaseException) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
            log.warning("%s unreachable (%s: %s); %s", self.name, type(error).__name__,
                        error, self.while_down)  # fmt: skip
            self._report(False)
