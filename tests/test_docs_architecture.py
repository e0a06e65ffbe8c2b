"""docs/architecture.md lists the layers in the order the import-linter contract enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contract_layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [re.split(r"\s*[:|]\s*", layer.strip()) for layer in contract["layers"]]


def _doc_layers() -> list[list[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("<!-- layers:start -->")[1].split("<!-- layers:end -->")[0]
    lines = [line for line in block.splitlines() if re.match(r"\d+\. ", line)]
    # "N. `app.x`, `app.y` — what it does"; the leaves line names its modules after the dash.
    return [
        re.findall(r"`(app(?:\.\w+)*)`", line.split(" — ")[-1 if "leaves" in line else 0])
        for line in lines
    ]


def test_the_documented_layers_are_the_enforced_ones_in_order() -> None:
    contract = _contract_layers()
    documented = _doc_layers()
    assert [sorted(layer) for layer in documented] == [sorted(layer) for layer in contract]


def test_readme_points_to_the_architecture_doc() -> None:
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
