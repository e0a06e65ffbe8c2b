"""Setup mistakes a new team makes, run as the operator runs them: each ends in one `error:` line
on stderr saying what to fix, exit code 1, and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env

from app.config import Settings

PAPERBOY = str(Path(sys.executable).parent / "paperboy")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # A narrow terminal: the line must not be wrapped into several.
    return subprocess.run(
        [PAPERBOY, *args],
        env={**env, "COLUMNS": "60"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "abc", "PORT must be a whole number (got 'abc')"),
        ("LLM_DAILY_BUDGET_USD", "$5", "LLM_DAILY_BUDGET_USD must be a plain number, like 1.00"),
        ("PAPERBOY_OFFLINE", "maybe", "PAPERBOY_OFFLINE must be true or false"),
        ("PAPERBOY_TIMEZONE", "EST5", "PAPERBOY_TIMEZONE must be an IANA time zone"),
        ("SLACK_BOT_TOKEN", "xoxp-123-456", "SLACK_BOT_TOKEN must start with xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-123-456", "SLACK_APP_TOKEN must start with xapp-"),
        ("DATABASE_URL", "sqlite:///paperboy.db", "DATABASE_URL must be a PostgreSQL URL"),
        ("DATABASE_URL", "mysql://root:hunter2@localhost/papers", "not mysql://"),
    ],
)
def test_a_malformed_setting_names_itself_and_what_it_expects(
    settings: Settings, name: str, value: str, expected: str
) -> None:
    line = assert_one_line(run({**cli_env(settings), name: value}, "channels"), expected)
    if name.endswith("TOKEN") or name == "DATABASE_URL":
        assert value not in line and "hunter2" not in line  # secrets are never echoed


def test_an_unreachable_database_says_where_and_what_to_check(settings: Settings) -> None:
    env = {**cli_env(settings), "DATABASE_URL": "postgresql://paperboy:hunter2@127.0.0.1:9/db"}
    line = assert_one_line(
        run(env, "channels"), "cannot connect to the database at", "127.0.0.1:9", "DATABASE_URL"
    )
    assert "hunter2" not in line


def test_an_unusable_data_dir_says_which_setting(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**cli_env(settings), "PAPERBOY_DATA_DIR": str(blocker / "data")}
    env.pop("DATABASE_URL")
    assert_one_line(run(env, "channels"), "PAPERBOY_DATA_DIR=", "is not usable", "can write to")


def test_serve_with_an_unreachable_database_stops_with_one_line(
    settings: Settings, slack_fake: Any
) -> None:
    env = {
        **cli_env(settings),
        "DATABASE_URL": "postgresql://paperboy@127.0.0.1:9/db",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": slack_fake.url,
        "PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    assert_one_line(run(env, "serve"), "cannot connect to the database")


def test_serve_with_a_wrong_token_prefix_stops_before_starting(settings: Settings) -> None:
    env = {**cli_env(settings), "SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_APP_TOKEN": "xapp-1"}
    assert_one_line(run(env, "serve"), "SLACK_BOT_TOKEN must start with xoxb-")


def test_a_malformed_database_url_is_refused_without_echoing_it(settings: Settings) -> None:
    env = {**cli_env(settings), "DATABASE_URL": "postgresql://paperboy:hunter2@db:port/papers"}
    line = assert_one_line(run(env, "channels"), "DATABASE_URL is not a usable URL")
    assert "hunter2" not in line
