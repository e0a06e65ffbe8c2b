"""Paperboy's one Settings object: read from the environment (and `.env`), loaded once, passed in.

Every field here is documented in `.env.example`; tests/test_docs.py keeps the two in step.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# USD per million tokens: (input, output). Cache writes cost 1.25x input, cache reads 0.1x,
# batches half price (see ../shared/REFERENCE.md, Anthropic prices).
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "claude-haiku-5-5": (Decimal("0.10"), Decimal("0.50")),
    "claude-sonnet-5-5": (Decimal("2.00"), Decimal("10.00")),
    "claude-opus-5-5": (Decimal("10.00"), Decimal("50.00")),
}


POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")
TOKEN_PREFIXES = {
    "slack_bot_token": ("xoxb-", "the Bot User OAuth Token, under OAuth & Permissions"),
    "slack_app_token": (
        "xapp-",
        "an app-level token with connections:write, under Basic Information",
    ),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What a value of each type looks like, for the one line a malformed setting gets.
_EXPECTED = {
    "int": "a whole number",
    "float": "a number, like 2.5",
    "decimal": "a plain number, like 1.00 (no currency sign)",
    "bool": "true or false",
    "url": "a URL",
}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- store -------------------------------------------------------------------------------
    # Unset: start (or reuse) a private embedded PostgreSQL under PAPERBOY_DATA_DIR.
    database_url: str | None = None
    paperboy_data_dir: Path = Path("./.paperboy")

    # --- sources -----------------------------------------------------------------------------
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_categories: Annotated[list[str], NoDecode] = ["cs.CL", "cs.LG", "cs.AI", "cs.IR"]
    arxiv_delay_seconds: float = 3.0
    arxiv_page_size: int = 100
    # Hard cap per category per run, so a first run on an empty store stays polite.
    arxiv_max_per_category: int = 400
    # Re-read this many hours before the last successful run: arXiv back-fills late entries.
    arxiv_overlap_hours: int = 36
    arxiv_num_retries: int = 4
    hf_api_url: str = "https://huggingface.co/api"
    # Retries of one Hugging Face request on 429 (honouring Retry-After), 5xx and timeouts.
    hf_num_retries: int = 4
    # Backoff between source retries: base * 2^attempt seconds (tests set it near zero).
    source_retry_base_seconds: float = 2.0
    # Longest single wait between two tries of a source request, Retry-After included.
    source_retry_max_wait_seconds: float = 60.0
    # How many recent days of Hugging Face daily papers each ingest reads.
    hf_days: int = 3
    # OpenReview (app/sources/openreview.py): off until at least one venue invitation is set,
    # e.g. "ICLR.cc/2026/Conference/-/Submission"; each run reads up to the cap per invitation.
    openreview_api_url: str = "https://api2.openreview.net"
    openreview_invitations: Annotated[list[str], NoDecode] = []
    openreview_max_notes: int = 1000
    openreview_num_retries: int = 4
    # Semantic Scholar (app/sources/semantic_scholar.py): citations for stored papers, related
    # papers, recommendations. The key is optional (sent as x-api-key, never logged).
    semantic_scholar_api_url: str = "https://api.semanticscholar.org"
    semantic_scholar_api_key: SecretStr | None = None
    # Least time between two requests to S2, process-wide (S2 allows 1 request/s).
    semantic_scholar_interval_seconds: float = 1.0
    # Longest one S2 call may take, waits and retries on 429/5xx included.
    semantic_scholar_deadline_seconds: float = 20.0
    http_timeout_seconds: float = 30.0
    # Use the bundled sample feed instead of the network (also picked when offline).
    paperboy_offline: bool = False

    # --- search ------------------------------------------------------------------------------
    # The text embedding model for semantic search (app/embeddings.py): the bundled default, or
    # file:DIR. Changing it re-embeds the archive (`paperboy embed`).
    embedding_model: str = "wordllama-l2-supercat-256"

    # --- LLM ---------------------------------------------------------------------------------
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    paperboy_llm_model: str = "claude-haiku-5-5"
    llm_daily_budget_usd: Decimal = Decimal("1.00")
    # Pending non-urgent jobs at or above this count go to the Message Batches API (half price).
    llm_batch_min: int = 50
    llm_max_attempts: int = 5
    relevance_top_k: int = 30
    llm_timeout_seconds: float = 60.0
    # Token budget of the full text handed to the model for deep summaries and questions.
    fulltext_max_tokens: int = 30000
    # Base of arXiv PDF URLs ("<base>/<id>v<version>"): an operator setting, never paper data.
    arxiv_pdf_url: str = "https://arxiv.org/pdf"
    # The SDK's own retries of one request (429, 529, 5xx, timeouts), honouring retry-after.
    llm_max_retries: int = 2
    # A failed job waits base * 2^(attempts-1) seconds (capped at an hour) before its next try.
    llm_retry_base_seconds: float = 30.0
    # How long a claimed job stays leased to a worker; a crashed worker's jobs return after it.
    llm_lease_seconds: float = 300.0
    # Seconds between two polls of a submitted Message Batch.
    llm_batch_poll_seconds: float = 30.0
    # A batch still unfinished this long after submission is given up and its jobs run
    # individually (the API expires a batch after 24 hours; this leaves it room to say so).
    llm_batch_deadline_seconds: float = 26 * 3600.0
    # Seconds `paperboy worker` sleeps when the queue is empty.
    llm_worker_idle_seconds: float = 5.0

    # --- Slack -------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    paperboy_timezone: str = "UTC"
    paperboy_demo_channel: str | None = None
    # Seconds between two messages to one channel (Slack allows about one per second).
    slack_channel_interval_seconds: float = 1.0

    # --- logging -----------------------------------------------------------------------------
    log_level: str = Field(default="INFO")
    # text: one readable line per record; json: one JSON object per line, with `error_id` as a
    # field on unexpected errors (app/logs.py).
    log_format: Literal["text", "json"] = "text"

    @field_validator("arxiv_categories", "openreview_invitations", mode="before")
    @classmethod
    def _categories_from_csv(cls, value: object) -> object:
        return _split_csv(value)

    # A copied .env.example leaves `NAME=` lines: empty means unset, not "an empty token".
    @field_validator(
        "database_url",
        "anthropic_api_key",
        "anthropic_base_url",
        "semantic_scholar_api_key",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "paperboy_demo_channel",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        scheme = value.partition("://")[0].lower() if value else ""
        if value is not None and scheme not in POSTGRES_SCHEMES:
            # The value may hold a password: only its scheme is shown back.
            raise ValueError(
                f"must be a PostgreSQL URL like postgresql://user:password@host:5432/paperboy, "
                f"not {scheme or 'that'}:// (leave it unset for the embedded PostgreSQL)"
            )
        return value

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_prefix(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        prefix, what = TOKEN_PREFIXES[info.field_name or ""]
        if value is not None and not value.get_secret_value().startswith(prefix):
            raise ValueError(f"must start with {prefix} ({what})")
        return value

    @field_validator("paperboy_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name, like Europe/Berlin or UTC") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value

    @property
    def sqlalchemy_url(self) -> str | None:
        """DATABASE_URL in the form SQLAlchemy wants (psycopg 3 driver)."""
        url = self.database_url
        if url is None:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    def price_per_mtok(self, model: str) -> tuple[Decimal, Decimal]:
        """(input, output) USD per million tokens; unknown models priced as Sonnet, to err high."""
        return DEFAULT_PRICES.get(model, DEFAULT_PRICES["claude-sonnet-5-5"])


def settings_problem(exc: ValidationError) -> str:
    """The first malformed setting in `exc` as one line: its variable, what it expects, and the
    value when that is not a secret."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    name = field.upper() or "a setting"
    kind = str(error["type"]).removesuffix("_parsing").removesuffix("_type")
    message = str(error["msg"])
    expects = (
        message.removeprefix("Value error, ")
        if error["type"] == "value_error"
        else f"must be {_EXPECTED[kind]}"
        if kind in _EXPECTED
        else message.lower()
    )
    secret = "token" in field or "secret" in field or "key" in field or field == "database_url"
    got = "" if secret or not isinstance(error.get("input"), str) else f" (got {error['input']!r})"
    more = len(exc.errors()) - 1
    also = f" (and {more} more setting{'s' if more > 1 else ''} to fix)" if more else ""
    return f"{name} {expects}{got}; fix it in the environment or .env{also}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
