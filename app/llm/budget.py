"""The daily LLM budget, shared by every worker and replica, and the usage ledger (`llm_calls`).

Every call, successful or not, leaves one row with its tokens and cost. Before a call is sent,
its worst-case cost (app/llm/cost.py estimate_usd) is reserved in `llm_reservations`, under a
transaction-level advisory lock so that two workers cannot both take the last of the budget.
Today's spend is the ledger since local midnight (PAPERBOY_TIMEZONE) plus live reservations
plus what submitted batches may still cost. A reservation is settled (deleted, the real cost
recorded) when the reply arrives and released on an error; a crashed worker's expires after
its lease.

A call that does not fit raises `BudgetExceeded`: when the recorded spend leaves no room, its
job waits for the next budget day and a notice is recorded once for the day; when only other
workers' calls in flight are in the way, it is retried shortly (their real cost is usually
well under what they reserved).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import jobs as queue
from app.db.models import JobState, LlmCall, LlmJob, LlmReservation, Notice
from app.errors import BudgetExceeded
from app.llm.client import Usage, llm_configured
from app.llm.cost import cost_usd

NOTICE_KIND = "llm_budget"
# In the reason every job turned away by the budget carries (`llm_jobs.last_error`).
REASON_MARK = "LLM budget"
# Any fixed number: every reservation in the database takes this lock for its transaction.
_LOCK_KEY = 0x6C6C6D62  # "llmb"


def day_start(settings: Settings, now: datetime | None = None) -> datetime:
    """The start (as UTC) of the budget day holding `now`: midnight in PAPERBOY_TIMEZONE."""
    zone = ZoneInfo(settings.paperboy_timezone)
    local = (now or datetime.now(UTC)).astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)


def next_day_start(settings: Settings, now: datetime | None = None) -> datetime:
    """The next local midnight (a day of 23 or 25 hours when the clocks change)."""
    zone = ZoneInfo(settings.paperboy_timezone)
    local = (now or datetime.now(UTC)).astimezone(zone)
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)


def budget_day(settings: Settings, now: datetime | None = None) -> date:
    zone = ZoneInfo(settings.paperboy_timezone)
    return (now or datetime.now(UTC)).astimezone(zone).date()


def recorded_today(session: Session, settings: Settings) -> Decimal:
    """Today's ledger plus what submitted batches may still cost: a batch is billed when its
    results come in, possibly hours later, and must not leave room to spend twice."""
    total = session.scalar(
        select(func.coalesce(func.sum(LlmCall.cost_usd), 0)).where(
            LlmCall.at >= day_start(settings)
        )
    )
    return Decimal(total or 0) + queue.batch_reserved_usd(session)


def in_flight(session: Session) -> Decimal:
    """What live reservations hold: calls sent (or about to be) whose cost is not known yet.
    Counted whatever day they were made, so a call straddling midnight is never lost."""
    total = session.scalar(
        select(func.coalesce(func.sum(LlmReservation.cost_usd), 0)).where(
            LlmReservation.expires_at > func.now()
        )
    )
    return Decimal(total or 0)


def spent_today(session: Session, settings: Settings) -> Decimal:
    """Today's spend as the budget sees it: recorded, batches pending, calls in flight."""
    return recorded_today(session, settings) + in_flight(session)


@dataclass(frozen=True)
class Reservation:
    id: int
    count: int  # how many of the costs asked for fit (a prefix)
    usd: Decimal
    # Why the rest of the costs did not fit (their jobs are deferred with it), if any.
    rest: BudgetExceeded | None = None


def reserve(
    session: Session,
    settings: Settings,
    *,
    costs: Sequence[Decimal],
    purpose: str,
    holder: str | None = None,
    lease_seconds: float | None = None,
) -> Reservation:
    """Hold the longest prefix of `costs` that fits today's budget, atomically across workers,
    and commit. Raises BudgetExceeded (after committing the day's notice, if the day is
    spent) when not even the first fits."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    recorded = recorded_today(session, settings)
    flying = in_flight(session)
    total, count = Decimal(0), 0
    for cost in costs:
        if recorded + flying + total + cost > settings.llm_daily_budget_usd:
            break
        total, count = total + cost, count + 1
    rest = None
    if count < len(costs):
        rest = _refusal(session, settings, recorded=recorded, flying=flying, cost=costs[count])
    if count == 0:
        session.commit()  # the day's notice stays
        raise rest or BudgetExceeded("nothing to reserve")
    lease = lease_seconds if lease_seconds is not None else call_lease(settings)
    row = LlmReservation(
        cost_usd=total,
        purpose=purpose,
        holder=holder,
        expires_at=func.now() + timedelta(seconds=lease),
    )
    session.add(row)
    session.flush()
    reservation = Reservation(id=row.id, count=count, usd=total, rest=rest)
    session.commit()
    return reservation


def _refusal(
    session: Session, settings: Settings, *, recorded: Decimal, flying: Decimal, cost: Decimal
) -> BudgetExceeded:
    """Why `cost` does not fit: the day is spent (wait for midnight, and say so once), or only
    calls in flight hold the rest (retry shortly: they usually cost less than they hold)."""
    limit = settings.llm_daily_budget_usd
    if recorded + cost > limit:  # no settling will make room today
        record_spent_notice(session, settings, spent=recorded + flying)
        return BudgetExceeded(
            f"today's {REASON_MARK} (${limit}) is spent", retry_at=next_day_start(settings)
        )
    wait = timedelta(seconds=max(settings.llm_retry_base_seconds, 1))
    return BudgetExceeded(
        f"today's {REASON_MARK} (${limit}) is held by calls in flight; retrying shortly",
        retry_at=datetime.now(UTC) + wait,
    )


def call_lease(settings: Settings) -> float:
    """How long a direct call's reservation holds: past the client's every retry and timeout."""
    return max(
        settings.llm_lease_seconds,
        settings.llm_timeout_seconds * (settings.llm_max_retries + 1) + 60,
    )


def release(session: Session, *, reservation_id: int) -> None:
    session.execute(delete(LlmReservation).where(LlmReservation.id == reservation_id))


def extend(session: Session, *, reservation_id: int, lease_seconds: float) -> None:
    session.execute(
        update(LlmReservation)
        .where(LlmReservation.id == reservation_id)
        .values(expires_at=func.now() + timedelta(seconds=lease_seconds))
    )


def record_spent_notice(
    session: Session, settings: Settings, *, spent: Decimal | None = None
) -> None:
    """Note, once per budget day, that the budget is spent and fallbacks are in use."""
    spent = spent_today(session, settings) if spent is None else spent
    record_notice(
        session,
        day=budget_day(settings),
        message=(
            f"LLM budget of ${settings.llm_daily_budget_usd} for today is spent "
            f"(${spent:.4f} used): extractive summaries until midnight "
            f"({settings.paperboy_timezone})."
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
    reservation_id: int | None = None,
) -> Decimal:
    """One ledger row; with `reservation_id`, the reservation is settled in the same
    transaction, so the cost is never counted twice nor missed."""
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
    if reservation_id is not None:
        release(session, reservation_id=reservation_id)
    return cost


def usage_today(session: Session, settings: Settings) -> dict[str, Any]:
    """Today's spend and tokens (budget day: PAPERBOY_TIMEZONE), for `paperboy status`."""
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
        ).where(LlmCall.at >= day_start(settings))
    ).one()
    calls, cost, tin, tout, cw, cr, batched, failed = row
    day = budget_day(settings)
    notice = session.scalar(
        select(Notice.message).where(Notice.kind == NOTICE_KIND, Notice.day == day)
    )
    return {
        "day": day.isoformat(),
        "timezone": settings.paperboy_timezone,
        "llm_enabled": llm_configured(settings),
        "model": settings.paperboy_llm_model,
        "calls": int(calls),
        "batch_calls": int(batched),
        "failed_calls": int(failed),
        "cost_usd": float(cost),
        "reserved_usd": float(in_flight(session) + queue.batch_reserved_usd(session)),
        "budget_usd": float(settings.llm_daily_budget_usd),
        "input_tokens": int(tin),
        "output_tokens": int(tout),
        "cache_write_tokens": int(cw),
        "cache_read_tokens": int(cr),
        "budget_notice": notice,
        "waiting_for_budget": int(
            session.scalar(
                select(func.count(LlmJob.id)).where(
                    LlmJob.state == JobState.PENDING,
                    LlmJob.last_error.contains(REASON_MARK, autoescape=True),
                )
            )
            or 0
        ),
    }
