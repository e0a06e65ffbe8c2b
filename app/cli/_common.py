"""The shared typer app, console and helpers every CLI module uses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from app.config import Settings, get_settings
from app.errors import PaperboyError, log_unexpected
from app.logs import stderr_handler
from app.runtime import Runtime

app = typer.Typer(
    name="paperboy",
    help="Paperboy: new papers for your research team, in Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("paperboy")

F = TypeVar("F", bound=Callable[..., Any])


def expected_errors(func: F) -> F:
    """Expected failures print one line and exit 1; unexpected ones log an id and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PaperboyError as exc:
            err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence for the CLI; logged with an id
            error_id = log_unexpected(log, "unexpected error in %s", func.__name__)
            err_console.print(f"[red]unexpected error[/red] ({type(exc).__name__}), id {error_id}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@functools.cache
def runtime() -> Runtime:
    """This process's dependencies, built once (the CLI is a composition root: app/runtime.py)."""
    return Runtime(get_settings())


def settings() -> Settings:
    return runtime().settings


def engine() -> Engine:
    """The engine for the configured database; migrations applied on first use."""
    return runtime().engine


def log_to_stderr(cfg: Settings) -> None:
    """Long-running processes log at LOG_LEVEL (job runs, connections); one-off commands stay
    quiet (WARNING, set in app/cli/__init__.py). LOG_FORMAT=json: one JSON object a line."""
    level = cfg.log_level.upper()
    logging.basicConfig(level=level, handlers=[stderr_handler(cfg.log_format)], force=True)
    logging.getLogger().setLevel(level)
    # Their INFO lines (each migration step, each job execution) drown out Paperboy's own.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
