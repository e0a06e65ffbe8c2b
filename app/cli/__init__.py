"""The `paperboy` command. Thin: each area registers its commands from its own module."""

from __future__ import annotations

import logging
import sys

import typer

# Importing the modules registers their commands on `app`.
from app.cli import (
    db_cmds,  # noqa: E402,F401,I001  (commands register on import)
    demo_cmd,  # noqa: E402,F401,I001
    digest_cmds,  # noqa: E402,F401,I001
    ingest_cmds,  # noqa: E402,F401,I001
    llm_cmds,  # noqa: E402,F401,I001
    search_cmds,  # noqa: E402,F401,I001
    serve_cmds,  # noqa: E402,F401,I001
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
