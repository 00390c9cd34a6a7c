"""apex_core.query stays pure: no network, no clock, no cost engine (the executor lives there)."""

from __future__ import annotations

import ast
from pathlib import Path

import apex_core.query

FORBIDDEN = (
    "apex_core.cost",
    "socket",
    "urllib",
    "http",
    "google",
    "requests",
    "time",
    "functions",
)


def test_the_query_package_imports_nothing_impure() -> None:
    package = Path(apex_core.query.__file__).parent
    offending = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offending += [
                f"{path.name}: {name}"
                for name in names
                if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN)
            ]
            if isinstance(node, ast.Attribute) and node.attr in ("today", "now", "utcnow"):
                offending.append(f"{path.name}: .{node.attr}")
    assert offending == []
