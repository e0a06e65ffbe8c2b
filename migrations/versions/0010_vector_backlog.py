"""vector backlog: vectors are written outside the HNSW index and added to it later

Revision ID: 0010_vector_backlog
Revises: 0009_author_follows
Create Date: 2026-12-01 22:30:00

HNSW inserts one row at a time (about 1.3 ms a vector), three times the cost of the rest of
storing a paper, so ingest writes vectors with `indexed = false` and the scheduler's `index` job
adds them to the index later (app/db/embeddings.py). The HNSW index becomes partial
(`WHERE indexed`) and a small partial b-tree finds the backlog, which search scans exactly in the
meantime. Existing rows are already in the index: the column is added with `true` for them (no
table rewrite), then its default becomes `false`. The HNSW index is rebuilt once, with room to
build in memory.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_vector_backlog'
down_revision: str | None = '0009_author_follows'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HNSW = {'postgresql_using': 'hnsw', 'postgresql_ops': {'embedding': 'vector_cosine_ops'}}


def upgrade() -> None:
    op.add_column(
        'paper_embeddings',
        sa.Column('indexed', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    )
    op.alter_column('paper_embeddings', 'indexed', server_default=sa.text('false'))
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    op.drop_index('ix_paper_embeddings_hnsw', table_name='paper_embeddings', **HNSW)
    op.create_index(
        'ix_paper_embeddings_hnsw', 'paper_embeddings', ['embedding'], unique=False,
        postgresql_where=sa.text('indexed'), **HNSW,
    )
    op.create_index(
        'ix_paper_embeddings_backlog', 'paper_embeddings', ['paper_id'], unique=False,
        postgresql_where=sa.text('NOT indexed'),
    )


def downgrade() -> None:
    op.drop_index('ix_paper_embeddings_backlog', table_name='paper_embeddings')
    op.drop_index('ix_paper_embeddings_hnsw', table_name='paper_embeddings', **HNSW)
    op.drop_column('paper_embeddings', 'indexed')
    op.create_index(
        'ix_paper_embeddings_hnsw', 'paper_embeddings', ['embedding'], unique=False, **HNSW
    )
