"""backfill_runs: progress of `paperboy backfill` (arXiv OAI-PMH), resumable after interruption

Revision ID: 0006_backfill
Revises: 0005_embeddings
Create Date: 2026-12-01 19:30:00

The status values are written out here, not imported from the models: a migration is history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_backfill"
down_revision: str | None = "0005_embeddings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("running", "stopped", "done")


def upgrade() -> None:
    op.create_table('backfill_runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('set_spec', sa.String(length=64), nullable=False),
    sa.Column('categories', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resumption_token', sa.Text(), nullable=True),
    sa.Column('harvest_from', sa.Date(), nullable=False),
    sa.Column('last_datestamp', sa.Date(), nullable=True),
    sa.Column('cursor', sa.Integer(), nullable=True),
    sa.Column('complete_list_size', sa.Integer(), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('seen', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('other', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill_runs'))
    )  # fmt: skip
    op.create_index(
        "ix_backfill_runs_set_spec_since", "backfill_runs", ["set_spec", "since"], unique=False
    )
    allowed = ", ".join(f"'{value}'" for value in STATUSES)
    op.create_check_constraint(
        op.f("ck_backfill_runs_status"), "backfill_runs", f"status IN ({allowed})"
    )


def downgrade() -> None:
    op.drop_index("ix_backfill_runs_set_spec_since", table_name="backfill_runs")
    op.drop_table("backfill_runs")
