"""One guarded LLM call: budget reserved, the call, one retry on invalid output, usage recorded.

Every path into the model goes through `call()` (direct) or records batch results with
`record()`, so `llm_calls` is a complete ledger and the daily budget holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from app.config import Settings
from app.db.engine import session_scope
from app.llm import budget
from app.llm.client import LLM, InvalidOutput, LLMUnavailable, Refused, Reply, Request, Usage
from app.llm.cost import estimate_usd


def record(
    settings: Settings,
    engine: Engine,
    *,
    model: str,
    purpose: str,
    usage: Usage,
    batch: bool = False,
    error: str | None = None,
    reservation_id: int | None = None,
) -> None:
    with session_scope(engine) as session:
        budget.record_call(
            session,
            settings,
            model=model,
            purpose=purpose,
            usage=usage,
            batch=batch,
            ok=error is None,
            error=error,
            reservation_id=reservation_id,
        )


def reserve(settings: Settings, engine: Engine, *, model: str, request: Request) -> int:
    """Reserve a direct call's worst-case cost; raises BudgetExceeded when it does not fit."""
    cost = estimate_usd(settings, model=model, request=request)
    with session_scope(engine) as session:
        return budget.reserve(session, settings, costs=[cost], purpose=request.purpose).id


def release(engine: Engine, reservation_id: int) -> None:
    with session_scope(engine) as session:
        budget.release(session, reservation_id=reservation_id)


def checked(reply: Reply[Any], check: Callable[[Any], None] | None) -> Reply[Any]:
    """Apply a task's own check to a schema-valid reply; a ValueError is invalid output."""
    if check is not None:
        try:
            check(reply.output)
        except ValueError as exc:
            raise InvalidOutput(f"invalid output: {exc}", reply.usage) from None
    return reply


def call(
    settings: Settings,
    engine: Engine,
    llm: LLM,
    request: Request,
    *,
    check: Callable[[Any], None] | None = None,
    attempts: int = 2,
) -> Reply[Any]:
    """A direct call. `check` may reject a schema-valid reply (raise ValueError), which counts
    as invalid output. Raises BudgetExceeded, Refused, InvalidOutput (after `attempts`) or
    LLMUnavailable; every attempt that reached the API is recorded."""
    last: InvalidOutput | None = None
    for _ in range(attempts):
        held = reserve(settings, engine, model=llm.model, request=request)
        try:
            reply = checked(llm.complete(request), check)
        except (InvalidOutput, Refused, LLMUnavailable) as exc:
            # Refusals and unusable replies were billed: they carry their usage. A failed call
            # (timeout, 5xx) records nothing billed and releases its reservation.
            usage = exc.usage if isinstance(exc, InvalidOutput | Refused) else Usage()
            record(
                settings,
                engine,
                model=llm.model,
                purpose=request.purpose,
                usage=usage,
                error=str(exc),
                reservation_id=held,
            )
            if not isinstance(exc, InvalidOutput):
                raise
            last = exc
            continue
        except BaseException:  # whatever else broke: free the budget now, not after the lease
            release(engine, held)
            raise
        record(
            settings,
            engine,
            model=llm.model,
            purpose=request.purpose,
            usage=reply.usage,
            reservation_id=held,
        )
        return reply
    assert last is not None
    raise last
