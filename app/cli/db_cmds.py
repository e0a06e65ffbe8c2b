"""`paperboy db ...`: schema management."""

from __future__ import annotations

import typer

from app.cli._common import app, console, expected_errors, settings
from app.db.engine import database_url, get_engine

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@expected_errors
def upgrade() -> None:
    """Apply pending migrations (every command also does this on first use)."""
    cfg = settings()
    get_engine(cfg)
    where = "embedded" if cfg.database_url is None else "DATABASE_URL"
    # Without the user name and password; plain text (a data folder path is not markup).
    shown = database_url(cfg).split("@")[-1]
    console.print(f"schema up to date ({where}: {shown})", markup=False, highlight=False)
