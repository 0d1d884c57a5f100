"""The CSAT models of each partition in their table, read once and written per batch.

Keys `"<partition>|csat|<brand>"` (the pooled model: `"<partition>|csat|"`), so the models move
with their partition and are restored from its changelog like every other state. A partition's
models are read on first use after an assignment and kept; the ones a batch taught are written
back (and refreshed, see `CsatModel.refresh`) with the batch's other changes.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from processor.predict.csat_model import CsatModel, CsatModels
from processor.stream.conversations import partition_items

_KIND = "csat"


def model_key(partition: int, brand: str) -> str:
    return f"{partition}|{_KIND}|{brand}"


class CsatModelStore:
    """Per partition, the models in memory; the table holds what the last batch left."""

    def __init__(self, table: MutableMapping[Any, Any], min_answers: int) -> None:
        self.table = table
        self.min_answers = min_answers
        self._partitions: dict[int, CsatModels] = {}

    def of(self, partition: int) -> CsatModels:
        models = self._partitions.get(partition)
        if models is None:
            models = self._partitions[partition] = self._read(partition)
        return models

    def _read(self, partition: int) -> CsatModels:
        prefix = f"{partition}|{_KIND}|"
        found = {
            key[len(prefix) :]: CsatModel.from_json(document)
            for key, document in partition_items(self.table, partition)
            if key.startswith(prefix)
        }
        return CsatModels(found, self.min_answers)

    def flush(self) -> None:
        """Write the models the batch changed (a new document each: the table keeps it)."""
        for partition, models in self._partitions.items():
            for brand in models.changed:
                model = models.models[brand]
                model.refresh()
                self.table[model_key(partition, brand)] = model.to_json()
            models.changed.clear()

    def forget(self, partitions: set[int]) -> None:
        """Revoked partitions: read again from the table if they come back."""
        for partition in partitions:
            self._partitions.pop(partition, None)

    def surveys_learned(self, partitions: set[int]) -> dict[str, int]:
        """Answers learned by brand, over the partitions' models (pooled under "")."""
        totals: dict[str, int] = {}
        for partition in partitions:
            for brand, surveys in self.of(partition).surveys_learned().items():
                totals[brand] = totals.get(brand, 0) + surveys
        return totals
