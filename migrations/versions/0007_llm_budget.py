"""the daily LLM budget holds across workers; a new arXiv version's summary is kept beside the old

Revision ID: 0007_llm_budget
Revises: 0006_backfill
Create Date: 2026-12-01 19:30:00

- llm_reservations: a call's (or a batch's) worst-case cost, held against the daily budget
  from before the call is sent until its real cost is recorded in llm_calls; a crashed
  worker's row stops counting at expires_at.
- summaries: the arXiv version joins the key (uq_summaries_key), so a new version's card is
  stored beside the old one instead of overwriting it; readers take the newest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_llm_budget'
down_revision: str | None = '0006_backfill'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('llm_reservations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_reservations'))
    )
    op.create_index('ix_llm_reservations_expires_at', 'llm_reservations', ['expires_at'], unique=False)
    op.drop_constraint('uq_summaries_key', 'summaries', type_='unique')
    op.create_unique_constraint(
        'uq_summaries_key', 'summaries', ['paper_id', 'kind', 'model', 'prompt_version', 'paper_version']
    )


def downgrade() -> None:
    # One row per key again: the newest arXiv version's summary stays.
    op.execute(
        "DELETE FROM summaries s USING summaries newer WHERE s.paper_id = newer.paper_id "
        "AND s.kind = newer.kind AND s.model = newer.model "
        "AND s.prompt_version = newer.prompt_version AND s.paper_version < newer.paper_version"
    )
    op.drop_constraint('uq_summaries_key', 'summaries', type_='unique')
    op.create_unique_constraint(
        'uq_summaries_key', 'summaries', ['paper_id', 'kind', 'model', 'prompt_version']
    )
    op.drop_index('ix_llm_reservations_expires_at', table_name='llm_reservations')
    op.drop_table('llm_reservations')
