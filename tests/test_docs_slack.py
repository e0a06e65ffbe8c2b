"""Docs that can't drift: every `/papers` subcommand the parser knows is in README, verbatim."""

from pathlib import Path

from app.slack.commands_parse import SUBCOMMANDS

README = Path(__file__).resolve().parents[1] / "README.md"


def _section() -> str:
    text = README.read_text()
    start, end = (
        text.index("<!-- area:slack-commands -->"),
        text.index("<!-- /area:slack-commands -->"),
    )
    return text[start:end]


def test_every_papers_subcommand_is_in_the_readme() -> None:
    section = _section()
    missing = [usage for usage, _ in SUBCOMMANDS if f"/papers {usage}" not in section]
    assert not missing, f"README does not document: {missing}"


def test_the_slack_commands_section_comes_before_the_end_marker() -> None:
    text = README.read_text()
    assert text.index("<!-- /area:slack-commands -->") < text.index("<!-- end -->")
