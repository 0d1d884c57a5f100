"""The native core's differential tests need its extension (`native/`, built into the venv
by `.ci/run` and the README's install step): skipped with the reason without it, unless
SOCIALCARE_REQUIRE_NATIVE=1 (CI) makes its absence a failure."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def native() -> ModuleType:
    try:
        import socialcare_native
    except ImportError as exc:
        if os.environ.get("SOCIALCARE_REQUIRE_NATIVE") == "1":
            raise
        pytest.skip(f"the native core is not built ({exc}): pip install ./native")
    return socialcare_native
