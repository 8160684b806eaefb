"""The house rules ARCHITECTURE.md states that a tool does not already check (lint-imports checks the layers)."""

from __future__ import annotations

from pathlib import Path

from edgekit.resources import load_toml

# The source tree, not the installed copy: CI installs the wheel, and pyproject.toml is not in it.
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "edgekit"
MAX_LINES = 500


def test_no_module_is_over_500_lines():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by feature (ARCHITECTURE.md): {long}"


def test_every_top_level_module_has_a_layer():
    """The import-linter contract is exhaustive; this names a missing module before lint-imports runs."""
    contract = load_toml((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    named = {name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    modules = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    missing = modules - named - {"__init__", *contract["exhaustive_ignores"]}
    assert not missing, f"give these a layer in pyproject.toml [tool.importlinter]: {sorted(missing)}"
