"""Docs that can't drift: every setting is in .env.example, every CLI command in README."""

import re
from pathlib import Path

import typer.main

from app.cli import app
from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"settings missing from .env.example: {sorted(missing)}"


def test_every_env_example_entry_has_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert lines[i - 1].startswith("#"), f"{line.split('=')[0]} has no comment above it"


def _command_paths(group: typer.Typer) -> list[str]:
    click_group = typer.main.get_command(group)
    paths: list[str] = []

    def walk(cmd, prefix: str) -> None:  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            paths.append(prefix)

    walk(click_group, "")
    return paths


def test_every_cli_command_is_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [p for p in _command_paths(app) if f"paperboy {p}" not in readme]
    assert not missing, f"README does not document: {missing}"


def test_readme_opens_with_the_two_setup_commands() -> None:
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make demo" in head and "make test" in head
