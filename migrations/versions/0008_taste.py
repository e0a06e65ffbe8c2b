"""channel taste: "More like this" nudges, the recommendations setting, recommended papers

Revision ID: 0008_taste
Revises: 0007_llm_budget
Create Date: 2026-12-01 19:40:00

- taste_nudges: one row per "More like this" click (channel, paper, user), a positive taste
  signal that leaves topic votes alone (app/digest/taste.py).
- channels.recommendations: the "Recommended for you" digest section, on unless turned off.
- digest_runs.recommended: which of a run's papers are recommendations and why, fixed with its
  paper list so a resumed or owed run shows the same reasons.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008_taste'
down_revision: str | None = '0007_llm_budget'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'taste_nudges',
        sa.Column('channel_id', sa.String(length=32), nullable=False),
        sa.Column('paper_id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['paper_id'], ['papers.id'], name=op.f('fk_taste_nudges_paper_id_papers'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('channel_id', 'paper_id', 'user_id', name=op.f('pk_taste_nudges')),
    )
    op.add_column(
        'channels',
        sa.Column('recommendations', sa.Boolean(), server_default='true', nullable=False),
    )
    op.add_column(
        'digest_runs',
        sa.Column(
            'recommended', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column('digest_runs', 'recommended')
    op.drop_column('channels', 'recommendations')
    op.drop_table('taste_nudges')
