"""The LLM seam: a small interface over the Anthropic SDK, built once per configuration.

Callers hand it a `Request` (system blocks, messages, the Pydantic model of the reply) and get a
`Reply` back: the validated output plus token usage. Whatever goes wrong comes back as an
`LLMError`: `InvalidOutput` (not JSON, or missing fields), `Refused` (stop_reason "refusal"),
`LLMUnavailable` (status errors and timeouts after the SDK's own retries, which honour
retry-after). Usage travels on the first two, since those calls were billed. Nothing else ever
escapes: a malformed 200 (not JSON, or not a Message) is `InvalidOutput` with no known usage, so
callers retry once and then fall back, and a job never stays `running` because of a reply.

Tests reach a local fake through ANTHROPIC_BASE_URL; nothing here is ever monkeypatched. The
SDK is imported on first use: it takes over a second, and readers of stored cards never need it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from app.config import Settings
from app.errors import LLMError
from app.llm.cache_floor import CacheFloor, note_usage

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @classmethod
    def of(cls, usage: Any) -> Usage:
        return cls(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )


@functools.cache
def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema the API accepts for structured output (the SDK's own transform)."""
    from anthropic import transform_schema  # heavy: loaded only once an LLM is used

    return transform_schema(model)


@dataclass(frozen=True)
class Request:
    """One Messages API request, independent of model, so it can go direct or in a batch."""

    purpose: str  # card | deep | grade | answer | expand
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    schema: type[BaseModel]
    max_tokens: int

    def params(self, model: str) -> dict[str, Any]:
        # No temperature/top_p: the current models reject them.
        return {
            "model": model,
            "max_tokens": self.max_tokens,
            "system": self.system,
            "messages": self.messages,
            "output_config": {
                "format": {"type": "json_schema", "schema": output_schema(self.schema)}
            },
        }

    def prompt_chars(self) -> int:
        """Characters of prompt text, for budget estimates (about 4 per token)."""
        total = sum(len(b.get("text", "")) for b in self.system)
        for message in self.messages:
            content = message["content"]
            if isinstance(content, str):
                total += len(content)
            else:
                total += sum(len(b.get("text", "")) for b in content)
        return total + len(str(output_schema(self.schema)))


@dataclass(frozen=True)
class Reply(Generic[T]):
    output: T
    usage: Usage
    model: str


class InvalidOutput(LLMError):
    """The reply was not valid JSON for the schema (billed: carries its usage)."""

    def __init__(self, message: str, usage: Usage) -> None:
        super().__init__(message)
        self.usage = usage


class Refused(LLMError):
    """The model declined (stop_reason "refusal"); the fallback is used, no retry."""

    def __init__(self, message: str, usage: Usage) -> None:
        super().__init__(message)
        self.usage = usage


class LLMUnavailable(LLMError):
    """The API failed after the SDK's retries (rate limit, overload, 5xx, timeout, ...)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class BatchGone(LLMUnavailable):
    """The batch will never end usefully (404, or an unknown status): release its jobs."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


@dataclass(frozen=True)
class BatchOutcome:
    """One line of a batch's results: a message, or why there is none."""

    custom_id: str
    message: Any | None  # anthropic.types.Message
    error: str | None


def parse_message(message: Any, schema: type[T]) -> Reply[T]:
    """Validate a Messages API reply against `schema`; shared by direct and batch calls."""
    try:
        usage = Usage.of(message.usage)
        stop_reason = message.stop_reason
        text = "".join(block.text for block in message.content if block.type == "text")
    except Exception as exc:  # noqa: BLE001 - a 200 whose body is not a Message is unusable
        raise InvalidOutput(f"malformed reply: {type(exc).__name__}", Usage()) from None
    if stop_reason == "refusal":
        raise Refused("the model declined to answer (refusal)", usage)
    try:
        output = schema.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "reply"
        cut = " (cut at max_tokens)" if stop_reason == "max_tokens" else ""
        raise InvalidOutput(f"invalid output{cut}: {where}: {first.get('msg')}", usage) from None
    return Reply(output=output, usage=usage, model=message.model)


def describe(exc: Exception) -> str:
    """One line for logs and `last_error`."""
    import anthropic  # heavy to import: loaded only once an LLM is actually used

    if isinstance(exc, anthropic.APITimeoutError):
        return "request timed out"
    if isinstance(exc, anthropic.APIStatusError):
        kind = exc.type or type(exc).__name__
        return f"HTTP {exc.status_code} {kind}: {(exc.api_message or '').strip()[:200]}"
    if isinstance(exc, anthropic.APIConnectionError):
        return "could not connect to the Anthropic API"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _unavailable(exc: Exception) -> LLMUnavailable:
    import anthropic  # heavy to import: loaded only once an LLM is actually used

    # A malformed request fails the same way every time: no point in retrying it later.
    permanent = isinstance(exc, anthropic.APIStatusError) and exc.status_code in (
        400,
        404,
        413,
        422,
    )
    return LLMUnavailable(describe(exc), retryable=not permanent)


class LLM(Protocol):
    model: str

    def complete(self, request: Request) -> Reply[Any]: ...

    def submit_batch(self, items: Sequence[tuple[str, Request]]) -> str: ...

    def batch_ended(self, batch_id: str) -> bool: ...

    def batch_results(self, batch_id: str) -> Iterator[BatchOutcome]: ...


class AnthropicLLM:
    """The real adapter: `anthropic.Anthropic`, created once and reused for every call."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        max_retries: int,
        timeout: float,
        cache_min_tokens: int = 0,
    ) -> None:
        import anthropic  # heavy to import: loaded only once an LLM is actually used

        self.model = model
        self._errors = anthropic.APIError
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
        )
        self.cache_floor = CacheFloor(model, override=cache_min_tokens)

    def _count(self, prefix: dict[str, Any]) -> int:
        """Input tokens of a prompt prefix (free API call); -1 when it cannot be had now."""
        try:
            return int(self._client.messages.count_tokens(**prefix).input_tokens)
        except Exception as exc:  # noqa: BLE001 - no count: skip the cache point, never the call
            log.warning("count_tokens failed (%s): no cache point this time", describe(exc))
            return -1

    def params(self, request: Request) -> tuple[dict[str, Any], bool]:
        """The request's params with cache points only where the prefix can be cached."""
        return self.cache_floor.apply(request.params(self.model), self._count)

    def complete(self, request: Request) -> Reply[Any]:
        params, caches = self.params(request)
        try:
            message = self._client.messages.create(**params)
        except self._errors as exc:
            raise _unavailable(exc) from None
        except Exception as exc:  # noqa: BLE001 - a malformed 200 (JSONDecodeError) is unusable
            raise InvalidOutput(f"malformed reply: {describe(exc)}", Usage()) from None
        try:
            reply = parse_message(message, request.schema)
        except InvalidOutput as exc:
            self._note(caches, exc.usage)
            raise
        self._note(caches, reply.usage)
        return reply

    def _note(self, caches: bool, usage: Usage) -> None:
        if usage != Usage():  # a malformed reply says nothing about caching
            note_usage(
                self.model,
                expected=caches,
                cache_write=usage.cache_write_tokens,
                cache_read=usage.cache_read_tokens,
            )

    def submit_batch(self, items: Sequence[tuple[str, Request]]) -> str:
        requests: Any = [{"custom_id": cid, "params": self.params(req)[0]} for cid, req in items]
        try:
            return str(self._client.messages.batches.create(requests=requests).id)
        except self._errors as exc:
            raise _unavailable(exc) from None
        except Exception as exc:  # noqa: BLE001 - malformed 200: jobs go back, not stranded
            raise LLMUnavailable(f"malformed reply: {describe(exc)}") from None

    def batch_ended(self, batch_id: str) -> bool:
        """True once the batch has ended; raises BatchGone when it never will (missing,
        canceled, expired), LLMUnavailable when polling failed this time."""
        try:
            batch = self._client.messages.batches.retrieve(batch_id)
            status = str(batch.processing_status)
        except self._errors as exc:
            error = _unavailable(exc)
            if not error.retryable:  # 404 and friends: it is not coming back
                raise BatchGone(f"batch {batch_id} is gone: {error}") from None
            raise error from None
        except Exception as exc:  # noqa: BLE001 - a malformed 200 is a failed poll, like a 5xx
            raise LLMUnavailable(f"malformed reply: {describe(exc)}") from None
        if status not in ("in_progress", "canceling", "ended"):
            raise BatchGone(f"batch {batch_id} is {status}")
        return status == "ended"

    def batch_results(self, batch_id: str) -> Iterator[BatchOutcome]:
        try:
            lines = list(self._client.messages.batches.results(batch_id))
        except self._errors as exc:
            raise _unavailable(exc) from None
        except Exception as exc:  # noqa: BLE001 - malformed JSONL: jobs retried, not stranded
            raise LLMUnavailable(f"malformed results: {describe(exc)}") from None
        for line in lines:
            result = line.result
            if result.type == "succeeded":
                yield BatchOutcome(line.custom_id, result.message, None)
            elif result.type == "errored":
                err = result.error.error
                yield BatchOutcome(line.custom_id, None, f"batch request errored: {err.type}")
            else:
                yield BatchOutcome(line.custom_id, None, f"batch request {result.type}")


def llm_configured(settings: Settings) -> bool:
    """True when ANTHROPIC_API_KEY is set: the one answer to "is there an LLM to call?"."""
    key = settings.anthropic_api_key
    return key is not None and bool(key.get_secret_value())


def build_llm(settings: Settings) -> LLM | None:
    """The configured LLM, or None without ANTHROPIC_API_KEY (then: fallbacks, no calls).

    Called once per process by the composition root (app/runtime.py), which passes it down.
    """
    if settings.anthropic_api_key is None or not llm_configured(settings):
        return None
    return AnthropicLLM(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        model=settings.paperboy_llm_model,
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout_seconds,
        cache_min_tokens=settings.llm_cache_min_tokens,
    )
