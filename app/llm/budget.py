"""The daily LLM budget and the usage ledger (`llm_calls`).

Every call, successful or not, leaves one row with its tokens and cost. Before a call, its
upper-bound cost is added to today's spend (UTC day); if that would pass LLM_DAILY_BUDGET_USD
the call is not made, `BudgetExceeded` is raised, and a notice is recorded once for the day.
The callers then use the extractive fallback and leave the work queued for tomorrow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import jobs as queue
from app.db.models import LlmCall, Notice
from app.llm.client import Usage, llm_configured
from app.llm.cost import cost_usd

NOTICE_KIND = "llm_budget"


def day_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def next_day_start(now: datetime | None = None) -> datetime:
    return day_start(now) + timedelta(days=1)


def spent_today(session: Session) -> Decimal:
    """Today's recorded spend plus what submitted batches may still cost: a batch is billed
    when its results come in, possibly hours later, and must not leave room to spend twice."""
    total = session.scalar(
        select(func.coalesce(func.sum(LlmCall.cost_usd), 0)).where(LlmCall.at >= day_start())
    )
    return Decimal(total or 0) + queue.batch_reserved_usd(session)


def over_budget(session: Session, settings: Settings, *, estimate: Decimal) -> bool:
    """True if this call would pass today's budget; then the day's notice is recorded (once).

    The caller commits (so the notice stays) and raises BudgetExceeded.
    """
    spent = spent_today(session)
    if spent + estimate <= settings.llm_daily_budget_usd:
        return False
    record_spent_notice(session, settings, spent=spent)
    return True


def record_spent_notice(
    session: Session, settings: Settings, *, spent: Decimal | None = None
) -> None:
    """Note, once per day, that the budget is spent and fallbacks are in use."""
    spent = spent_today(session) if spent is None else spent
    record_notice(
        session,
        day=day_start().date(),
        message=(
            f"LLM budget of ${settings.llm_daily_budget_usd} for today is spent "
            f"(${spent:.4f} used): extractive summaries until tomorrow (UTC)."
        ),
    )


def record_notice(session: Session, *, day: date, message: str) -> None:
    stmt = (
        insert(Notice)
        .values(kind=NOTICE_KIND, day=day, message=message)
        .on_conflict_do_nothing(constraint="uq_notices_kind_day")
    )
    session.execute(stmt)


def record_call(
    session: Session,
    settings: Settings,
    *,
    model: str,
    purpose: str,
    usage: Usage,
    batch: bool = False,
    ok: bool = True,
    error: str | None = None,
) -> Decimal:
    cost = cost_usd(settings, model=model, usage=usage, batch=batch)
    session.add(
        LlmCall(
            model=model,
            purpose=purpose,
            batch=batch,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cost_usd=cost,
            ok=ok,
            error=error,
        )
    )
    return cost


def usage_today(session: Session, settings: Settings) -> dict[str, Any]:
    """Today's spend and tokens, for `paperboy status`."""
    row = session.execute(
        select(
            func.count(LlmCall.id),
            func.coalesce(func.sum(LlmCall.cost_usd), 0),
            func.coalesce(func.sum(LlmCall.input_tokens), 0),
            func.coalesce(func.sum(LlmCall.output_tokens), 0),
            func.coalesce(func.sum(LlmCall.cache_write_tokens), 0),
            func.coalesce(func.sum(LlmCall.cache_read_tokens), 0),
            func.count(LlmCall.id).filter(LlmCall.batch),
            func.count(LlmCall.id).filter(LlmCall.ok.is_(False)),
        ).where(LlmCall.at >= day_start())
    ).one()
    calls, cost, tin, tout, cw, cr, batched, failed = row
    notice = session.scalar(
        select(Notice.message).where(Notice.kind == NOTICE_KIND, Notice.day == day_start().date())
    )
    return {
        "day": day_start().date().isoformat(),
        "llm_enabled": llm_configured(settings),
        "model": settings.paperboy_llm_model,
        "calls": int(calls),
        "batch_calls": int(batched),
        "failed_calls": int(failed),
        "cost_usd": float(cost),
        "budget_usd": float(settings.llm_daily_budget_usd),
        "input_tokens": int(tin),
        "output_tokens": int(tout),
        "cache_write_tokens": int(cw),
        "cache_read_tokens": int(cr),
        "budget_notice": notice,
    }
