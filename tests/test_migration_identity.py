"""0002_paper_identity on a populated database: every row and every link between rows survive.

The database is built at revision 0001 with the alembic command API, filled through SQL in the
0001 schema (papers keyed by arxiv_id, Hugging Face columns on papers), then upgraded to head."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.db.engine import alembic_config
from app.db.models import Base
from app.db.papers import get_paper, upsert_papers
from app.sources.records import PaperRecord

A, B, C = "2611.00001", "2611.00002", "2611.00003"

SEED = f"""
INSERT INTO papers (arxiv_id, version, title, abstract, authors, categories, primary_category,
    published, doi, links, hf_upvotes, hf_num_comments, hf_github_repo, hf_github_stars,
    hf_ai_keywords, hf_ai_summary, hf_organization, hf_featured_on, hf_trending_at)
VALUES
 ('{A}', 2, 'Paper A', 'Abstract A', '[{{"name": "Ada"}}]', '{{cs.CL}}', 'cs.CL',
  '2026-11-20T10:00:00Z', '10.1000/ABC', '[]', 42, 3, 'https://github.com/a/b', 318,
  '{{sparse attention,long context}}', 'AI summary', 'ETH', '2026-11-24',
  '2026-11-25T08:30:00Z'),
 ('{B}', 1, 'Paper B (Hugging Face only)', '', '[]', '{{}}', NULL,
  NULL, NULL, '[]', 7, NULL, NULL, NULL, NULL, NULL, NULL, '2026-11-25', NULL),
 ('{C}', 1, 'Paper C', 'Abstract C', '[]', '{{cs.LG}}', 'cs.LG',
  NULL, NULL, '[]', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ingest_runs (id, source, params, status, fetched, inserted, updated, skipped)
VALUES (1, 'arxiv', '{{}}', 'ok', 3, 3, 0, 0);
INSERT INTO paper_sources (arxiv_id, source, source_key, last_run_id)
VALUES ('{A}', 'arxiv', 'cs.CL', 1), ('{A}', 'hf_daily', '2026-11-24', NULL),
       ('{B}', 'hf_trending', '', NULL), ('{C}', 'arxiv', 'cs.LG', 1);
INSERT INTO topics (id, name, query, categories, exclude) VALUES (1, 'retrieval', 'retrieval',
    '{{}}', '{{}}');
INSERT INTO channels (channel_id, cron, timezone, max_papers, min_relevance, include_trending,
    quiet_day_notice, style, active)
VALUES ('C1', '0 9 * * mon-fri', 'UTC', 8, 0, true, false, 'messages', true);
INSERT INTO channel_topics (channel_id, topic_id) VALUES ('C1', 1);
INSERT INTO digest_runs (id, channel_id, scheduled_for, status, paper_ids, forced)
VALUES (1, 'C1', '2026-11-25T09:00:00Z', 'done', '{{{A},{B}}}', false);
INSERT INTO posted_messages (channel_id, ts, thread_ts, arxiv_id, digest_run_id, kind, position)
VALUES ('C1', '1.0', NULL, NULL, 1, 'header', 0), ('C1', '1.1', NULL, '{A}', 1, 'paper', 1),
       ('C1', '1.2', NULL, '{B}', 1, 'paper', 2), ('C1', '1.3', '1.1', '{A}', NULL, 'summary',
       NULL);
INSERT INTO feedback (channel_id, arxiv_id, user_id, value)
VALUES ('C1', '{A}', 'U1', 1), ('C1', '{B}', 'U2', -1), ('C1', '{A}', 'U2', 1);
INSERT INTO saved_papers (user_id, arxiv_id, channel_id) VALUES ('U1', '{A}', 'C1'),
    ('U1', '{C}', NULL), ('U2', '{B}', 'C1');
INSERT INTO summaries (arxiv_id, kind, model, prompt_version, paper_version, extractive,
    content, source_text)
VALUES ('{A}', 'card', 'claude-haiku-5-5', 'card-1', 2, false, '{{"tldr": "A"}}', 'abstract'),
       ('{A}', 'deep', 'claude-haiku-5-5', 'deep-1', 2, false, '{{"tldr": "A deep"}}',
        'fulltext'),
       ('{B}', 'card', 'extractive', 'card-1', 1, true, '{{"tldr": "B"}}', 'abstract');
INSERT INTO paper_texts (arxiv_id, version, text, source_url, truncated)
VALUES ('{A}', 2, 'Full text of A', 'https://arxiv.org/pdf/{A}v2', false);
INSERT INTO relevance (topic_id, arxiv_id, lexical_score, llm_score, reason)
VALUES (1, '{A}', 0.7, 9, 'on topic'), (1, '{B}', 0.2, NULL, NULL);
INSERT INTO llm_jobs (kind, arxiv_id, topic_id, payload, priority, urgent, state, attempts,
    max_attempts, dedupe_key)
VALUES ('card', '{A}', NULL, '{{}}', 0, false, 'done', 1, 5, 'card:{A}:-'),
       ('grade', '{B}', 1, '{{}}', 0, false, 'pending', 0, 5, 'grade:{B}:1'),
       ('answer', NULL, NULL, '{{}}', -1, true, 'dead', 5, 5, 'answer:-:-');
INSERT INTO job_runs (job_id, scheduled_for, status) VALUES ('ingest', '2026-11-25T06:00Z', 'ok');
INSERT INTO llm_calls (model, purpose, batch, input_tokens, output_tokens, cache_write_tokens,
    cache_read_tokens, cost_usd, ok)
VALUES ('claude-haiku-5-5', 'card', false, 1, 1, 0, 0, 0, true);
INSERT INTO notices (kind, message, day) VALUES ('budget', 'spent', '2026-11-25');
INSERT INTO slack_events (event_id) VALUES ('Ev1');
"""

# Per table that pointed at papers: its rows as (own columns..., the paper's arXiv id).
LINKS = {
    "paper_sources": "source, source_key",
    "summaries": "kind, model, prompt_version, content::text",
    "paper_texts": "version, text",
    "llm_jobs": "kind, state, dedupe_key",
    "relevance": "topic_id, lexical_score, llm_score",
    "posted_messages": "channel_id, ts, kind, position, digest_run_id",
    "saved_papers": "user_id, channel_id",
    "feedback": "channel_id, user_id, value",
}
OTHERS = ("ingest_runs", "topics", "channels", "channel_topics", "digest_runs", "job_runs",
          "llm_calls", "notices", "slack_events")  # fmt: skip


def _links(conn: Connection, table: str, *, before: bool) -> set[tuple[Any, ...]]:
    columns = ", ".join(f"t.{c.strip()}" for c in LINKS[table].split(","))
    if before:
        sql = f"SELECT {columns}, t.arxiv_id FROM {table} t"
    else:
        sql = f"SELECT {columns}, p.arxiv_id FROM {table} t LEFT JOIN papers p ON p.id = t.paper_id"
    return {tuple(row) for row in conn.execute(text(sql))}


def _count(conn: Connection, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture
def old_db(pg_server_url: str) -> Iterator[Engine]:
    """A database at revision 0001 (not the migrated template), dropped afterwards."""
    name = "m_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "0001")
    engine = create_engine(url)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_upgrade_keeps_every_row_and_link(old_db: Engine) -> None:
    with old_db.begin() as conn:
        conn.execute(text(SEED))
    with old_db.connect() as conn:
        counts = {t: _count(conn, t) for t in (*LINKS, *OTHERS, "papers")}
        links = {t: _links(conn, t, before=True) for t in LINKS}

    command.upgrade(alembic_config(old_db.url.render_as_string(hide_password=False)), "head")

    with old_db.connect() as conn:
        assert {t: _count(conn, t) for t in counts} == counts
        for table in LINKS:
            assert _links(conn, table, before=False) == links[table], table
        assert conn.execute(
            text("SELECT paper_ids FROM digest_runs WHERE id = 1")
        ).scalar_one() == [A, B]  # fmt: skip
        owners = conn.execute(
            text("SELECT arxiv_id, metadata_source FROM papers ORDER BY arxiv_id")
        ).all()
        assert [tuple(r) for r in owners] == [(A, "arxiv"), (B, "hf"), (C, "arxiv")]
        ids = conn.execute(
            text(
                "SELECT e.scheme, e.value, p.arxiv_id FROM paper_external_ids e "
                "JOIN papers p ON p.id = e.paper_id ORDER BY 1, 2"
            )
        ).all()
        assert [tuple(r) for r in ids] == [
            ("arxiv", A, A),
            ("arxiv", B, B),
            ("arxiv", C, C),
            ("doi", "10.1000/abc", A),
        ]
        signals = dict(
            conn.execute(
                text(
                    "SELECT p.arxiv_id, s.data FROM paper_signals s "
                    "JOIN papers p ON p.id = s.paper_id WHERE s.source = 'hf'"
                )
            ).all()
        )
        assert set(signals) == {A, B}  # C had no Hugging Face values
        assert signals[B] == {"upvotes": 7, "first_featured_on": "2026-11-25"}
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
        assert diff == []

    # The models read the moved values, and the store keeps merging into the same rows.
    with Session(old_db) as session:
        paper = get_paper(session, arxiv_id=A)
        assert paper is not None
        assert (paper.hf_upvotes, paper.hf_github_stars, paper.hf_ai_keywords) == (
            42,
            318,
            ["sparse attention", "long context"],
        )
        assert paper.hf_featured_on is not None and paper.hf_featured_on.isoformat() == "2026-11-24"
        assert paper.hf_trending_at is not None and paper.hf_trending_at.hour == 8
        old_ids = {p: get_paper(session, arxiv_id=p).id for p in (A, B, C)}  # type: ignore[union-attr]
        counts = upsert_papers(
            session,
            records=[
                PaperRecord(arxiv_id=B, title="Paper B from arXiv", primary_category="cs.CL"),
                PaperRecord(arxiv_id="2611.00004", title="A new paper"),
            ],
        )
        session.commit()
        assert (counts.inserted, counts.updated) == (1, 1)
        enriched = get_paper(session, arxiv_id=B)
        assert enriched is not None and enriched.id == old_ids[B]
        assert enriched.title == "Paper B from arXiv"
        new = get_paper(session, arxiv_id="2611.00004")
        assert new is not None and new.id > max(old_ids.values())
