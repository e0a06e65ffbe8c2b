"""author follows: the authors a channel follows

Revision ID: 0009_author_follows
Revises: 0008_taste
Create Date: 2026-12-01 19:40:00

One row per channel and author (app/authors.py). `arxiv_query` is the `au:` query the arXiv
ingest runs for the author; `s2_author_id` is Semantic Scholar's id when it was resolved.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_author_follows'
down_revision: str | None = '0008_taste'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'channel_authors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('s2_author_id', sa.String(length=64), nullable=True),
        sa.Column('arxiv_query', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=32), nullable=True),
        sa.Column(
            'created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ['channel_id'], ['channels.channel_id'],
            name=op.f('fk_channel_authors_channel_id_channels'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_authors')),
        sa.UniqueConstraint('channel_id', 'name', name='uq_channel_authors_channel_name'),
    )


def downgrade() -> None:
    op.drop_table('channel_authors')
