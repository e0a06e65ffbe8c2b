"""The store as a user meets it: the embedded default shared by commands run at once, and a
database that is upgraded on first use. Every command here is a real `paperboy` subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import cli_env
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.config import Settings

PAPERBOY = str(Path(sys.executable).parent / "paperboy")


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = cli_env(settings) | {"COLUMNS": "200"} | extra
    assert "DATABASE_URL" not in env or settings.database_url is not None
    return env


def _start(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PAPERBOY, *args],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def test_two_commands_at_once_share_the_embedded_database(settings: Settings, tmp_path: Path):
    # DATABASE_URL unset: the embedded default, in a data folder nobody has used yet.
    data = tmp_path / "paperboy-data"
    embedded = settings.model_copy(update={"database_url": None, "paperboy_data_dir": data})
    first = [
        _start(embedded, "db", "upgrade"),
        _start(embedded, "topic", "add", "LLM agents"),
        _start(embedded, "search", "anything", "--json"),
    ]
    results = [_finish(p) for p in first]
    for code, out, err in results:
        assert code == 0, f"{out}\n{err}"
        assert "Traceback" not in err
    assert "schema up to date (embedded" in results[0][1]
    assert json.loads(results[2][1]) == []
    pg_version = data / "pg" / "PG_VERSION"
    assert pg_version.exists()
    created = pg_version.stat().st_mtime_ns

    # A later command reuses the same data folder (and so sees what the first ones stored).
    code, out, err = _finish(_start(embedded, "topic", "list"))
    assert code == 0, err
    assert "LLM agents" in out
    assert pg_version.stat().st_mtime_ns == created


def test_every_command_upgrades_an_empty_database_on_first_use(
    settings: Settings, pg_server_url: str
):
    name = "empty_" + uuid.uuid4().hex[:10]
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))  # no template: no tables at all
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        cfg = settings.model_copy(update={"database_url": url})
        search = subprocess.run(
            [PAPERBOY, "search", "x", "--json"],
            env=_env(cfg),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert search.returncode == 0, search.stderr
        assert json.loads(search.stdout) == []
        topics = subprocess.run(
            [PAPERBOY, "topic", "list"], env=_env(cfg), capture_output=True, text=True, timeout=120
        )
        assert topics.returncode == 0, topics.stderr
        assert "no topics yet" in topics.stdout
        check = create_engine(url)
        assert {"papers", "topics", "ingest_runs", "alembic_version"} <= set(
            inspect(check).get_table_names()
        )
        check.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
