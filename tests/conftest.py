"""Shared fixtures: a real embedded PostgreSQL, a fresh migrated database per test.

One server per pytest worker (under its temp dir); the schema is migrated once into a template
database and every test gets `CREATE DATABASE ... TEMPLATE`, which takes a few milliseconds.
"""

from __future__ import annotations

import importlib
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.engine import dispose_all, embedded_url, ensure_schema
from tests.deps import cli_env  # noqa: F401 - test modules import it from here

# Tests must never reach a live service: fail fast if a code path forgets its base URL.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
for _var in ("ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DATABASE_URL"):
    os.environ.pop(_var, None)

TEMPLATE_DB = "paperboy_template"


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the embedded server's maintenance database, with the migrated template in place."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        url = embedded_url(tmp_path_factory.mktemp("pgserver"))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}"))
        conn.execute(text(f"CREATE DATABASE {TEMPLATE_DB}"))
    template = create_engine(make_url(url).set(database=TEMPLATE_DB))
    ensure_schema(template)
    template.dispose()
    admin.dispose()
    return url


@pytest.fixture
def db_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, fully migrated database for this test alone."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    dispose_all()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(db_url: str, data_dir: Path) -> Settings:
    """Settings pointed at this test's database; outside services at unroutable ports until a
    fake is attached (tests replace the URLs with their fake's)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        paperboy_data_dir=data_dir,
        arxiv_api_url="http://127.0.0.1:9/api/query",
        hf_api_url="http://127.0.0.1:9/api",
        anthropic_base_url="http://127.0.0.1:9",
        slack_api_url="http://127.0.0.1:9/api/",
        semantic_scholar_api_url="http://127.0.0.1:9",
        semantic_scholar_interval_seconds=0.0,
        semantic_scholar_deadline_seconds=5.0,
        arxiv_delay_seconds=0.0,
        http_timeout_seconds=5.0,
        paperboy_offline=False,
    )


# --- fake outside services (tests/fakes/): real HTTP servers, one set per test -----------------


def _fake_service(name: str, module: str, cls: str, doc: str):  # type: ignore[no-untyped-def]
    """A fixture yielding a started `fakes.<module>.<cls>()` (a context manager), stopped after."""

    def fixture() -> Iterator[object]:
        with getattr(importlib.import_module(f"fakes.{module}"), cls)() as fake:
            yield fake

    fixture.__doc__ = doc
    return pytest.fixture(name=name)(fixture)


slack_fake = _fake_service(
    "slack_fake", "slack_api", "FakeSlack",
    "A running fake Slack Web API: WebClient(base_url=slack_fake.url), or SLACK_API_URL.",
)  # fmt: skip
anthropic_fake = _fake_service(
    "anthropic_fake", "anthropic_api", "AnthropicFake",
    "A running fake Anthropic API: point ANTHROPIC_BASE_URL (settings) at anthropic_fake.url.",
)  # fmt: skip
pdf_server = _fake_service(
    "pdf_server", "arxiv_pdf", "PdfServer",
    'A fake arXiv PDF host: ARXIV_PDF_URL = pdf_server.url + "/pdf".',
)  # fmt: skip
arxiv_fake = _fake_service(
    "arxiv_fake", "arxiv_api", "FakeArxiv",
    "A running fake arXiv API: point ARXIV_API_URL at `arxiv_fake.url`.",
)  # fmt: skip
hf_fake = _fake_service(
    "hf_fake", "hf_api", "FakeHF",
    "A running fake Hugging Face papers API: point HF_API_URL at `hf_fake.url`.",
)  # fmt: skip
openreview_fake = _fake_service(
    "openreview_fake", "openreview_api", "FakeOpenReview",
    "A running fake OpenReview API v2: point OPENREVIEW_API_URL at `openreview_fake.url`.",
)  # fmt: skip
s2_fake = _fake_service(
    "s2_fake", "semantic_scholar", "FakeSemanticScholar",
    "A running fake Semantic Scholar API: point SEMANTIC_SCHOLAR_API_URL at `s2_fake.url`.",
)  # fmt: skip


# --- the Slack app over HTTP (tests/slack_helpers.py) ---------------------------------------------


@pytest.fixture
def slack_app_server(settings: Settings, engine, slack_fake):  # type: ignore[no-untyped-def]
    """The Slack app serving signed requests on a free port, against `slack_fake` and this test's
    database. Yields tests/slack_helpers.SlackAppServer (.url, .secret, .settings, .command(),
    .event(), .action(), .wait_idle())."""
    from slack_helpers import running_slack_app

    with running_slack_app(settings, slack_fake, engine=engine) as server:
        yield server
