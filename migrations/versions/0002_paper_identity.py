"""paper identity: surrogate key, external ids, per-source signals, merge owner

Revision ID: 0002_paper_identity
Revises: 0001
Create Date: 2026-12-01 17:10:00

Every table that pointed at papers.arxiv_id points at papers.id now; each row keeps its paper
(the new key is looked up through the old one before the old column goes). Hugging Face's
columns move to paper_signals (source "hf"), the arXiv id and DOI to paper_external_ids.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_paper_identity"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, nullable, ondelete, primary key after the change or None, unique/index to rebuild)
_CHILDREN: tuple[tuple[str, bool, str], ...] = (
    ("paper_sources", False, "CASCADE"),
    ("summaries", False, "CASCADE"),
    ("paper_texts", False, "CASCADE"),
    ("llm_jobs", True, "CASCADE"),
    ("relevance", False, "CASCADE"),
    ("posted_messages", True, "SET NULL"),
    ("saved_papers", False, "CASCADE"),
    ("feedback", False, "CASCADE"),
)
_PKS = {
    "paper_texts": ["paper_id"],
    "relevance": ["topic_id", "paper_id"],
    "saved_papers": ["user_id", "paper_id"],
    "feedback": ["channel_id", "paper_id", "user_id"],
}
_HF_COLUMNS = (
    "hf_upvotes",
    "hf_num_comments",
    "hf_github_repo",
    "hf_github_stars",
    "hf_ai_keywords",
    "hf_ai_summary",
    "hf_organization",
    "hf_featured_on",
    "hf_trending_at",
)
# The merge priorities the sources declare (app/sources/*.py), for the owner of existing rows.
_ARXIV_PRIORITY = 100
_HF_PRIORITY = 20


def upgrade() -> None:
    # 1. The surrogate key; PostgreSQL numbers the existing rows as it adds the column.
    op.add_column(
        "papers", sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)
    )
    op.add_column("papers", sa.Column("metadata_source", sa.String(length=32), nullable=True))
    op.add_column("papers", sa.Column("metadata_priority", sa.SmallInteger(), nullable=True))
    # arXiv gave every paper with a primary category; the rest only Hugging Face has shown us.
    op.execute(
        "UPDATE papers SET "
        "metadata_source = CASE WHEN primary_category IS NULL THEN 'hf' ELSE 'arxiv' END, "
        f"metadata_priority = CASE WHEN primary_category IS NULL THEN {_HF_PRIORITY} "
        f"ELSE {_ARXIV_PRIORITY} END"
    )
    op.alter_column("papers", "metadata_source", nullable=False)
    op.alter_column("papers", "metadata_priority", nullable=False)
    op.create_unique_constraint(op.f("uq_papers_id_tmp"), "papers", ["id"])

    # 2. Children: new key column filled through the old one, then the old one goes.
    for table, nullable, ondelete in _CHILDREN:
        op.add_column(table, sa.Column("paper_id", sa.BigInteger(), nullable=True))
        op.execute(
            f"UPDATE {table} SET paper_id = papers.id FROM papers "
            f"WHERE papers.arxiv_id = {table}.arxiv_id"
        )
        op.drop_constraint(f"fk_{table}_arxiv_id_papers", table, type_="foreignkey")
        if table in _PKS:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
    op.drop_constraint("uq_paper_sources_key", "paper_sources", type_="unique")
    op.drop_constraint("uq_summaries_key", "summaries", type_="unique")
    op.drop_index("ix_posted_messages_channel_paper", table_name="posted_messages")

    # 3. papers: the new primary key; arxiv_id stays as a nullable unique convenience column.
    op.drop_constraint("pk_papers", "papers", type_="primary")
    op.create_primary_key(op.f("pk_papers"), "papers", ["id"])
    op.drop_constraint(op.f("uq_papers_id_tmp"), "papers", type_="unique")
    op.alter_column("papers", "arxiv_id", existing_type=sa.String(length=64), nullable=True)
    op.create_unique_constraint(op.f("uq_papers_arxiv_id"), "papers", ["arxiv_id"])

    for table, nullable, ondelete in _CHILDREN:
        op.drop_column(table, "arxiv_id")
        if not nullable:
            op.alter_column(table, "paper_id", nullable=False)
        op.create_foreign_key(
            op.f(f"fk_{table}_paper_id_papers"),
            table,
            "papers",
            ["paper_id"],
            ["id"],
            ondelete=ondelete,
        )
        if table in _PKS:
            op.create_primary_key(op.f(f"pk_{table}"), table, _PKS[table])
    op.create_unique_constraint(
        "uq_paper_sources_key", "paper_sources", ["paper_id", "source", "source_key"]
    )
    op.create_unique_constraint(
        "uq_summaries_key", "summaries", ["paper_id", "kind", "model", "prompt_version"]
    )
    op.create_index(
        "ix_posted_messages_channel_paper", "posted_messages", ["channel_id", "paper_id"]
    )

    # 4. The identity map, filled with every arXiv id and DOI we know.
    op.create_table(
        "paper_external_ids",
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("paper_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_external_ids_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scheme", "value", name=op.f("pk_paper_external_ids")),
    )
    op.create_index(
        op.f("ix_paper_external_ids_paper_id"), "paper_external_ids", ["paper_id"], unique=False
    )
    op.execute(
        "INSERT INTO paper_external_ids (scheme, value, paper_id) "
        "SELECT 'arxiv', arxiv_id, id FROM papers WHERE arxiv_id IS NOT NULL"
    )
    # Two papers claiming one DOI (a preprint and its erratum, say): the first keeps it.
    op.execute(
        "INSERT INTO paper_external_ids (scheme, value, paper_id) "
        "SELECT DISTINCT ON (lower(doi)) 'doi', lower(doi), id FROM papers "
        "WHERE doi IS NOT NULL AND doi <> '' ORDER BY lower(doi), id"
    )

    # 5. Hugging Face's columns become its signals.
    op.create_table(
        "paper_signals",
        sa.Column("paper_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_signals_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "source", name=op.f("pk_paper_signals")),
    )
    any_hf = " OR ".join(f"{c} IS NOT NULL" for c in _HF_COLUMNS)
    op.execute(
        "INSERT INTO paper_signals (paper_id, source, data) "
        "SELECT id, 'hf', jsonb_strip_nulls(jsonb_build_object("
        "'upvotes', hf_upvotes, 'num_comments', hf_num_comments, "
        "'github_repo', hf_github_repo, 'github_stars', hf_github_stars, "
        "'ai_keywords', to_jsonb(hf_ai_keywords), 'ai_summary', hf_ai_summary, "
        "'organization', hf_organization, "
        "'first_featured_on', to_char(hf_featured_on, 'YYYY-MM-DD'), "
        "'first_trending_at', to_jsonb(hf_trending_at))) "
        f"FROM papers WHERE {any_hf}"
    )
    for column in _HF_COLUMNS:
        op.drop_column("papers", column)


def downgrade() -> None:
    raise NotImplementedError(
        "0002_paper_identity is one-way: papers without an arXiv id have no place in 0001. "
        "Restore a backup taken before the upgrade instead."
    )
