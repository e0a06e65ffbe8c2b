"""status columns take only their known values (CHECK constraints)

Revision ID: 0003_status_checks
Revises: 0001
Create Date: 2026-12-01 17:00:00

The values are written out here, not imported from app/db/models/states.py: a migration is
history and must not change when the enums do (a new state gets a migration of its own).
tests/test_migrations.py checks that these constraints and the models' agree.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003_status_checks'
down_revision: str | None = '0002_paper_identity'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, allowed values)
CHECKS = [
    ('llm_jobs', 'state', ('pending', 'running', 'done', 'dead')),
    ('ingest_runs', 'status', ('running', 'ok', 'partial', 'failed')),
    ('digest_runs', 'status', ('planned', 'posting', 'done', 'failed')),
    ('job_runs', 'status', ('running', 'ok', 'failed', 'abandoned')),
]


def upgrade() -> None:
    for table, column, values in CHECKS:
        allowed = ', '.join(f"'{value}'" for value in values)
        op.create_check_constraint(op.f(f'ck_{table}_{column}'), table, f'{column} IN ({allowed})')


def downgrade() -> None:
    for table, column, _ in reversed(CHECKS):
        op.drop_constraint(op.f(f'ck_{table}_{column}'), table, type_='check')
