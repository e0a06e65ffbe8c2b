"""paper embeddings: a title + abstract vector per paper, with an HNSW index

Revision ID: 0005_embeddings
Revises: 0004_digest_owed
Create Date: 2026-12-01 19:30:00

One row per paper (app/embeddings.py makes the vectors; 256 dimensions, unit length). `model`
names the model and its weights' hash, `text_hash` the text it was made from, so a model change
or a new abstract is re-embedded. The HNSW index serves cosine nearest-neighbour search. Papers
stored before this revision get their vectors from `paperboy embed` (the scheduler's ingest also
fills them in).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision: str = '0005_embeddings'
down_revision: str | None = '0004_digest_owed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        'paper_embeddings',
        sa.Column('paper_id', sa.BigInteger(), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('text_hash', sa.String(length=32), nullable=False),
        sa.Column('embedding', Vector(256), nullable=False),
        sa.Column(
            'embedded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ['paper_id'], ['papers.id'], name=op.f('fk_paper_embeddings_paper_id_papers'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('paper_id', name=op.f('pk_paper_embeddings')),
    )
    op.create_index(
        'ix_paper_embeddings_hnsw', 'paper_embeddings', ['embedding'], unique=False,
        postgresql_using='hnsw', postgresql_ops={'embedding': 'vector_cosine_ops'},
    )


def downgrade() -> None:
    op.drop_index(
        'ix_paper_embeddings_hnsw', table_name='paper_embeddings', postgresql_using='hnsw',
        postgresql_ops={'embedding': 'vector_cosine_ops'},
    )
    op.drop_table('paper_embeddings')
