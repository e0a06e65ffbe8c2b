"""`paperboy backfill` progress (app/backfill.py): one row per harvested range, updated in the
same transaction as each page's papers, so an interrupted harvest resumes after the last stored
page."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, now_column, status_check, status_type
from app.db.models.states import BackfillStatus


class BackfillRun(Base):
    """One range: an OAI set, the categories kept from it, and the creation dates kept."""

    __tablename__ = "backfill_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    set_spec: Mapped[str] = mapped_column(String(64))  # "cs"
    categories: Mapped[list[str]] = mapped_column(ARRAY(String))  # sorted
    since: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[BackfillStatus] = mapped_column(
        status_type(BackfillStatus), default=BackfillStatus.RUNNING
    )
    # Where the harvest stands: the token of the next page (None before the first page), the
    # `from` the current list was asked with (moves to last_datestamp when a token expired), and
    # the list's own counters as the server reported them (the current arXiv service omits them).
    resumption_token: Mapped[str | None] = mapped_column(Text)
    harvest_from: Mapped[date] = mapped_column(Date)
    last_datestamp: Mapped[date | None] = mapped_column(Date)
    cursor: Mapped[int | None] = mapped_column(Integer)
    complete_list_size: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    seen: Mapped[int] = mapped_column(Integer, default=0)  # records read, whatever their fate
    stored: Mapped[int] = mapped_column(Integer, default=0)  # papers upserted
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # malformed records
    other: Mapped[int] = mapped_column(Integer, default=0)  # other categories or dates
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = now_column()
    updated_at: Mapped[datetime] = now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_backfill_runs_set_spec_since", "set_spec", "since"),
        status_check("status", BackfillStatus),
    )
