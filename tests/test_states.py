"""Status columns hold only their enum's values: the models and the migrations say so alike, and
the database refuses anything else."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import (
    BackfillStatus,
    Base,
    Channel,
    DigestRun,
    DigestStatus,
    IngestRun,
    IngestStatus,
    JobRun,
    JobRunStatus,
    JobState,
    LlmJob,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _allowed(sql: str) -> set[str]:
    # PostgreSQL reflects `x IN ('a', 'b')` as `x::text = ANY (ARRAY['a'::character varying, ...])`:
    # compare the quoted values, not the text.
    return set(re.findall(r"'([^']*)'", sql))


def _model_checks() -> dict[tuple[str, str], set[str]]:
    return {
        (table.name, str(c.name)): _allowed(str(c.sqltext))
        for table in Base.metadata.tables.values()
        for c in table.constraints
        if isinstance(c, CheckConstraint)
    }


def test_models_and_migrations_have_the_same_check_constraints(engine) -> None:
    # Alembic's autogenerate compare does not look at CHECK constraints: compare them here.
    inspector = inspect(engine)
    in_database = {
        (table, c["name"]): _allowed(c["sqltext"])
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for c in inspector.get_check_constraints(table)
    }
    assert in_database == _model_checks()


def test_every_status_column_is_checked_against_its_enum() -> None:
    assert _model_checks() == {
        ("llm_jobs", "ck_llm_jobs_state"): set(JobState),
        ("ingest_runs", "ck_ingest_runs_status"): set(IngestStatus),
        ("digest_runs", "ck_digest_runs_status"): set(DigestStatus),
        ("job_runs", "ck_job_runs_status"): set(JobRunStatus),
        ("backfill_runs", "ck_backfill_runs_status"): set(BackfillStatus),
    }


def _rows(session: Session) -> dict[str, int]:
    """One valid row in each table with a status column: {table: id}."""
    session.add(Channel(channel_id="C1"))
    session.flush()
    rows = [
        LlmJob(kind="card", dedupe_key="card:-:-"),
        IngestRun(source="arxiv"),
        DigestRun(channel_id="C1", scheduled_for=NOW),
        JobRun(job_id="ingest", scheduled_for=NOW),
    ]
    session.add_all(rows)
    session.flush()
    return {row.__tablename__: row.id for row in rows}


@pytest.mark.parametrize(
    "table, column",
    [
        ("llm_jobs", "state"),
        ("ingest_runs", "status"),
        ("digest_runs", "status"),
        ("job_runs", "status"),
    ],
)
def test_an_unknown_status_is_rejected_by_the_database(
    session: Session, table: str, column: str
) -> None:
    row_id = _rows(session)[table]
    with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"):
        session.execute(
            text(f"UPDATE {table} SET {column} = 'finished' WHERE id = :id"), {"id": row_id}
        )


def test_new_rows_start_in_their_first_state_and_read_back_as_enum_members(
    session: Session,
) -> None:
    ids = _rows(session)
    session.commit()
    session.expunge_all()
    job = session.get(LlmJob, ids["llm_jobs"])
    ingest = session.get(IngestRun, ids["ingest_runs"])
    digest = session.get(DigestRun, ids["digest_runs"])
    run = session.get(JobRun, ids["job_runs"])
    assert job is not None and job.state is JobState.PENDING
    assert ingest is not None and ingest.status is IngestStatus.RUNNING
    assert digest is not None and digest.status is DigestStatus.PLANNED
    assert run is not None and run.status is JobRunStatus.RUNNING
