"""The folder layout is the architecture: each subpackage imports only what its docstring allows.

Checked on the source with `ast` (function-level imports included), so a shortcut across
layers fails here rather than in review. Also: no module is named after a standard-library
module, and none grows past the size a reader can follow.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "processor"
DEFINITIONS = (
    "processor.metrics.family",
    "processor.metrics.customer_families",
    "processor.metrics.prediction_families",
    "processor.metrics.families",
    "processor.metrics.series",
    "processor.metrics.windows",
)
BASE = ("processor.settings", "processor.errors")
ALLOWED: dict[str, tuple[str, ...]] = {
    "processor.metrics.family": (),
    "processor.metrics.customer_families": ("processor.metrics.family",),
    "processor.metrics.prediction_families": ("processor.metrics.family",),
    "processor.metrics.families": (
        "processor.metrics.family", "processor.metrics.customer_families",
        "processor.metrics.prediction_families",
    ),
    "processor.metrics.windows": (),
    "processor.metrics.series": ("processor.metrics.families", "processor.errors"),
    "processor.domain": (*BASE, *DEFINITIONS, "processor.domain"),
    "processor.metrics": (*BASE, *DEFINITIONS, "processor.domain", "processor.metrics"),
    "processor.predict": (*BASE, *DEFINITIONS, "processor.domain", "processor.predict"),
    "processor.state": ("processor.errors", "processor.state"),
    "processor.stream": (
        *BASE, "processor.domain", "processor.metrics", "processor.predict", "processor.state",
        "processor.stream",
    ),
    "processor.ingest": (
        *BASE, "processor.domain", "processor.metrics", "processor.ingest",
        "processor.stream.topics", "processor.stream.preflight",
    ),
    "processor.settings": ("processor.errors",),
    "processor.errors": (),
}  # fmt: skip


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(part for part in parts if part != "__init__")
        found.append((name, path))
    return found


def project_imports(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("processor"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            imported.update(names if node.module in ("processor", "processor.metrics") else
                            [node.module])  # fmt: skip
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.startswith("processor"))
    return imported


def rule_for(module: str) -> tuple[str, ...] | None:
    """The most specific rule: a module's own, else its subpackage's (tools: none)."""
    candidates = [
        prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")
    ]
    return ALLOWED[max(candidates, key=len)] if candidates else None


@pytest.mark.parametrize(("module", "path"), modules(), ids=lambda item: str(item))
def test_imports_follow_the_layers(module: str, path: Path) -> None:
    allowed = rule_for(module)
    if allowed is None:
        return  # tools, the package root and __main__ may import anything
    bad = sorted(
        name for name in project_imports(path)
        if not any(name == ok or name.startswith(ok + ".") for ok in allowed)
    )  # fmt: skip
    assert bad == [], f"{module} imports {bad}; allowed: {allowed}"


def test_nothing_imports_tools() -> None:
    for module, path in modules():
        if module.startswith("processor.tools") or module == "processor.__main__":
            continue
        assert not any(name.startswith("processor.tools") for name in project_imports(path)), module


def test_no_module_shadows_the_standard_library_or_grows_too_long() -> None:
    for module, path in modules():
        assert module.rsplit(".", 1)[-1] not in sys.stdlib_module_names, module
        assert len(path.read_text().splitlines()) <= 600, f"{module} is over 600 lines"
