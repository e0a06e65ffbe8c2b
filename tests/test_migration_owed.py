"""0004_digest_owed on a database with digests Slack refused before the upgrade: their papers
become owed instead of staying lost, and the downgrade goes back cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.db.engine import alembic_config

SEED = """
INSERT INTO channels (channel_id, cron, timezone, max_papers, min_relevance, include_trending,
    quiet_day_notice, style, active)
VALUES ('C1', '0 9 * * mon-fri', 'UTC', 8, 0, true, false, 'messages', true);
INSERT INTO digest_runs (id, channel_id, scheduled_for, status, paper_ids, forced, error) VALUES
 (1, 'C1', '2026-11-24T09:00:00Z', 'done', '{2611.00001}', false, NULL),
 (2, 'C1', '2026-11-25T09:00:00Z', 'failed', '{2611.00002}', false, 'slack: invalid_auth'),
 (3, 'C1', '2026-11-26T09:00:00Z', 'failed', '{2611.00003}', false, 'slack: invalid_blocks');
"""


@pytest.fixture
def db_0003(pg_server_url: str) -> Iterator[tuple[Engine, str]]:
    name = "m_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "0003_status_checks")
    engine = create_engine(url)
    yield engine, url
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _statuses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT status FROM digest_runs ORDER BY id")))


def test_runs_refused_for_the_token_or_channel_become_owed(db_0003: tuple[Engine, str]) -> None:
    engine, url = db_0003
    with engine.begin() as conn:
        conn.execute(text(SEED))
    command.upgrade(alembic_config(url), "0004_digest_owed")
    # a refused token is owed; a refused message is not (it would fail again)
    assert _statuses(engine) == ["done", "undelivered", "failed"]
    with engine.connect() as conn:
        row = conn.execute(text("SELECT attempts, retry_at FROM digest_runs WHERE id = 2")).one()
        assert tuple(row) == (0, None)
        paused = conn.scalar(text("SELECT paused_at FROM channels WHERE channel_id = 'C1'"))
        assert paused is None

    command.downgrade(alembic_config(url), "0003_status_checks")
    assert _statuses(engine) == ["done", "failed", "failed"]
