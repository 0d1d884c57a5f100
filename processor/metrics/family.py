"""What a metric family is: name, kind, help text, labels (the catalogue is `families`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
HistogramPart = Literal["bucket", "sum", "count"]


@dataclass(frozen=True)
class Family:
    """One exported metric family."""

    name: str  # full name; counters without `_total`, as prometheus-client takes them
    kind: Kind
    documentation: str
    labels: tuple[str, ...]

    def sample(self, part: HistogramPart | Literal[""] = "") -> str:
        """The name of the family's samples in the exposition (what PromQL reads)."""
        if self.kind == "counter":
            return self.name + "_total"
        if self.kind == "histogram":
            if not part:
                raise ValueError(f"{self.name} is a histogram: say bucket, sum or count")
            return f"{self.name}_{part}"
        return self.name
