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
# English runs near 4 characters a token, code, math and non-Latin scripts nearer 3: the
# reservation must not fall short of the bill.
WORST_CHARS_PER_TOKEN = 3
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
    """The worst case before the call, which the budget reserves: the whole prompt at
    WORST_CHARS_PER_TOKEN, billed as a cache write when the request asks for caching (1.25x,
    never a read discount), and all of max_tokens as output."""
    tokens = -(-request.prompt_chars() // WORST_CHARS_PER_TOKEN) + 1
    caches = "cache_control" in repr((request.system, request.messages))
    usage = Usage(
        input_tokens=0 if caches else tokens,
        cache_write_tokens=tokens if caches else 0,
        output_tokens=request.max_tokens,
    )
    return cost_usd(settings, model=model, usage=usage, batch=batch)
