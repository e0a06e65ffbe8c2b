"""The `paperboy` command. Thin: each area registers its commands from its own module."""

from __future__ import annotations

import logging
import sys

import typer

# Importing the modules registers their commands on `app`.
from app.cli import (
    backfill_cmd,  # noqa: F401
    channel_cmds,  # noqa: F401  (commands register on import)
    db_cmds,  # noqa: F401
    demo_cmd,  # noqa: F401
    digest_cmds,  # noqa: F401
    embed_cmds,  # noqa: F401
    ingest_cmds,  # noqa: F401
    llm_cmds,  # noqa: F401
    related_cmds,  # noqa: F401
    search_cmds,  # noqa: F401
    serve_cmds,  # noqa: F401
)
from app.cli._common import app, console

__all__ = ["app", "console", "main"]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()

_ = typer  # re-exported for sub-modules' type hints
