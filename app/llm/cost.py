"""What a call costs, in USD, from the per-model price table in Settings.

Anthropic bills cache writes at 1.25x the input price (5-minute cache), cache reads at 0.1x, and
everything in a Message Batch at half price.
"""

from __future__ import annotations

from decimal import Decimal

from app.config import Settings
from app.llm.client import Request, Usage

CACHE_WRITE = Decimal("1.25")
CACHE_READ = Decimal("0.1")
BATCH = Decimal("0.5")
CHARS_PER_TOKEN = 4
_MILLION = Decimal(1_000_000)
_QUANTUM = Decimal("0.000001")


def cost_usd(settings: Settings, *, model: str, usage: Usage, batch: bool = False) -> Decimal:
    price_in, price_out = settings.price_per_mtok(model)
    total = (
        usage.input_tokens * price_in
        + usage.cache_write_tokens * price_in * CACHE_WRITE
        + usage.cache_read_tokens * price_in * CACHE_READ
        + usage.output_tokens * price_out
    ) / _MILLION
    if batch:
        total *= BATCH
    return total.quantize(_QUANTUM)


def estimate_usd(
    settings: Settings, *, model: str, request: Request, batch: bool = False
) -> Decimal:
    """An upper-bound guess before the call: the whole prompt uncached, max_tokens of output."""
    usage = Usage(
        input_tokens=request.prompt_chars() // CHARS_PER_TOKEN + 1,
        output_tokens=request.max_tokens,
    )
    return cost_usd(settings, model=model, usage=usage, batch=batch)
