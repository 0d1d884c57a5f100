"""The contract's JSON Schemas (schemas/*.schema.json) as validators, for the tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@functools.cache
def schema_documents() -> dict[str, dict[str, Any]]:
    """Schema name (file name without .schema.json) -> document."""
    return {
        path.name.removesuffix(".schema.json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SCHEMAS.glob("*.schema.json"))
    }


@functools.cache
def validators() -> dict[str, Draft202012Validator]:
    """Schema name -> validator, `$ref`s resolved by `$id` and by file name, formats checked."""
    documents = schema_documents()
    resources = []
    for name, document in documents.items():
        resource = Resource.from_contents(document)
        resources += [(document["$id"], resource), (f"{name}.schema.json", resource)]
    registry: Registry[Any] = Registry().with_resources(resources)
    return {
        name: Draft202012Validator(document, registry=registry, format_checker=FormatChecker())
        for name, document in documents.items()
    }
