"""The prompt-cache floor: a prefix shorter than the model's minimum is silently not cached.

Anthropic caches the prefix up to a `cache_control` block only when it is at least a
model-dependent number of tokens long; below that the request works and the cache counters
stay at zero, so a cache point nobody checks costs the cache write premium of nothing and hides
the real price. Prompts (app/llm/prompts.py) mark where caching would help; `CacheFloor` keeps
only the marks whose prefix reaches the floor, deciding from a character estimate when it is
clearly above or below and asking `count_tokens` (once per prefix and model) when it is not.
When caching was expected and a reply shows no cache tokens at all, one warning per model says
so: the table below is then wrong for that model, and LLM_CACHE_MIN_TOKENS can correct it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Minimum cacheable prefix in tokens, by model-name prefix (first match wins), from Anthropic's
# prompt-caching documentation. Models not listed get UNKNOWN_FLOOR: assuming too high a floor
# only skips a cache point; assuming too low a one pays for writes that never happen.
FLOORS: tuple[tuple[str, int], ...] = (
    ("claude-haiku-4-5", 4096),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
    ("claude-opus-4-5", 4096),
    ("claude-opus-4", 1024),
    ("claude-sonnet-4", 1024),
    ("claude-3-7-sonnet", 1024),
)
UNKNOWN_FLOOR = 4096
CHARS_PER_TOKEN = 4
# An estimate this far from the floor decides alone; in between, the API counts.
CLEARLY_BELOW = 0.75
CLEARLY_ABOVE = 1.5

_warned: set[str] = set()
_warned_lock = threading.Lock()


def min_cache_tokens(model: str, override: int = 0) -> int:
    """The floor for `model`: LLM_CACHE_MIN_TOKENS when set (> 0), else the table."""
    if override > 0:
        return override
    for prefix, floor in FLOORS:
        if model.startswith(prefix):
            return floor
    return UNKNOWN_FLOOR


def _marked(block: Any) -> bool:
    return isinstance(block, dict) and bool(block.get("cache_control"))


def _prefixes(params: dict[str, Any]) -> list[tuple[tuple[str, int, int], dict[str, Any]]]:
    """Each cache point as ((where, message, block), the request cut just after it)."""
    out: list[tuple[tuple[str, int, int], dict[str, Any]]] = []
    base: dict[str, Any] = {k: params[k] for k in ("model", "output_config") if k in params}
    system = params.get("system") or []
    if isinstance(system, list):
        for i, block in enumerate(system):
            if _marked(block):
                # count_tokens needs a message; one character stands in for the rest.
                cut = {**base, "system": system[: i + 1]}
                out.append((("system", 0, i), {**cut, "messages": [_STUB]}))
    for m, message in enumerate(params.get("messages") or []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for i, block in enumerate(content):
            if _marked(block):
                cut_messages = [*params["messages"][:m], {**message, "content": content[: i + 1]}]
                out.append(
                    (("messages", m, i), {**base, "system": system, "messages": cut_messages})
                )
    return out


_STUB = {"role": "user", "content": "."}


def _estimate(prefix: dict[str, Any]) -> int:
    return len(json.dumps(prefix, ensure_ascii=False)) // CHARS_PER_TOKEN


class CacheFloor:
    """Strips cache points below the floor; counts are remembered per prefix and model."""

    def __init__(self, model: str, *, override: int = 0) -> None:
        self.model = model
        self.floor = min_cache_tokens(model, override)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def tokens(self, prefix: dict[str, Any], count: Callable[[dict[str, Any]], int]) -> int:
        key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
        with self._lock:
            known = self._counts.get(key)
        if known is None:
            known = count(prefix)
            if known >= 0:  # a failed count (-1) is asked again next time
                with self._lock:
                    self._counts[key] = known
        return known

    def reaches(self, prefix: dict[str, Any], count: Callable[[dict[str, Any]], int]) -> bool:
        guess = _estimate(prefix)
        if guess < self.floor * CLEARLY_BELOW:
            return False
        if guess >= self.floor * CLEARLY_ABOVE:
            return True
        return self.tokens(prefix, count) >= self.floor

    def apply(
        self, params: dict[str, Any], count: Callable[[dict[str, Any]], int]
    ) -> tuple[dict[str, Any], bool]:
        """The params with only the cache points that can be cached, and whether any is left."""
        points = _prefixes(params)
        if not points:
            return params, False
        drop = [where for where, prefix in points if not self.reaches(prefix, count)]
        if not drop:
            return params, True
        params = copy.deepcopy(params)
        for area, m, i in drop:
            block = params["system"][i] if area == "system" else params["messages"][m]["content"][i]
            del block["cache_control"]
        return params, len(drop) < len(points)


def note_usage(model: str, *, expected: bool, cache_write: int, cache_read: int) -> None:
    """Warn once per process and model when a cache point produced no cache tokens at all."""
    if not expected or cache_write or cache_read:
        return
    with _warned_lock:
        if model in _warned:
            return
        _warned.add(model)
    log.warning(
        "prompt caching expected for model %s but the reply shows no cache tokens: its minimum "
        "cacheable prefix is probably above the one assumed; set LLM_CACHE_MIN_TOKENS",
        model,
    )
