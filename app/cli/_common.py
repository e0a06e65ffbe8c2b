"""The shared typer app, console and helpers every CLI module uses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from app.config import Settings, get_settings, settings_problem
from app.db.engine import unreachable
from app.errors import ConfigError, PaperboyError, log_unexpected
from app.logs import stderr_handler
from app.runtime import Runtime
from app.slack.channels import resolve_channel

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


def package_version() -> str:
    try:
        return version("paperboy")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"paperboy {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    pass


CHANNEL = typer.Option(
    ...,
    "--channel",
    "-c",
    help="Slack channel: its id (C0123456789), its link, or #name.",
)


def expected_errors(func: F) -> F:
    """Expected failures print one line and exit 1; unexpected ones log an id and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PaperboyError as exc:
            # soft_wrap: one line whatever the terminal's width (scripts grep for it).
            err_console.print(
                f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from None
        except OperationalError as exc:  # the database went away after it was first reached
            err_console.print(f"[red]error:[/red] {escape(database_problem(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence for the CLI; logged with an id
            error_id = log_unexpected(log, "unexpected error in %s", func.__name__)
            err_console.print(
                f"[red]unexpected error[/red] ({type(exc).__name__}), id {error_id}",
                soft_wrap=True,
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@functools.cache
def runtime() -> Runtime:
    """This process's dependencies, built once (the CLI is a composition root: app/runtime.py)."""
    try:
        cfg = get_settings()
    except ValidationError as exc:  # a malformed setting: name it and say what it expects
        raise ConfigError(settings_problem(exc)) from None
    return Runtime(cfg)


def settings() -> Settings:
    return runtime().settings


def engine() -> Engine:
    """The engine for the configured database; migrations applied on first use."""
    return runtime().engine


def database_problem(exc: OperationalError) -> str:
    return unreachable(runtime().settings.database_url, exc)


def channel_arg(text: str) -> str:
    """A `--channel` value (id, link, mention or #name) as a checked channel id."""
    rt = runtime()
    return resolve_channel(rt.slack if rt.settings.slack_bot_token else None, text)


def log_to_stderr(cfg: Settings) -> None:
    """Long-running processes log at LOG_LEVEL (job runs, connections); one-off commands stay
    quiet (WARNING, set in app/cli/__init__.py). LOG_FORMAT=json: one JSON object a line."""
    level = cfg.log_level.upper()
    logging.basicConfig(level=level, handlers=[stderr_handler(cfg.log_format)], force=True)
    logging.getLogger().setLevel(level)
    # Their INFO lines (each migration step, each job execution) drown out Paperboy's own.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
