"""The shared typer app, console and helpers every CLI module uses."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from app.config import Settings, get_settings
from app.db.engine import get_engine
from app.errors import PaperboyError

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
        except Exception as exc:  # last line of defence for the CLI
            error_id = uuid.uuid4().hex[:8]
            log.exception("unexpected error id=%s", error_id)
            err_console.print(f"[red]unexpected error[/red] ({type(exc).__name__}), id {error_id}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def settings() -> Settings:
    return get_settings()


def engine() -> Engine:
    """The engine for the configured database; migrations applied on first use."""
    return get_engine(get_settings())
