"""the daily LLM budget holds across workers: in-flight reservations

Revision ID: 0006_llm_budget
Revises: 0004_digest_owed
Create Date: 2026-12-01 19:30:00

- llm_reservations: a call's (or a batch's) worst-case cost, held against the daily budget
  from before the call is sent until its real cost is recorded in llm_calls; a crashed
  worker's row stops counting at expires_at.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_llm_budget'
down_revision: str | None = '0004_digest_owed'
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


def downgrade() -> None:
    op.drop_index('ix_llm_reservations_expires_at', table_name='llm_reservations')
    op.drop_table('llm_reservations')
