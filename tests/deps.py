"""What the composition root (app/runtime.py) would pass down, built the same way for tests."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.config import Settings
from app.embeddings import StaticEmbedder, build_embedder
from app.llm.client import build_llm
from app.llm.fulltext import PdfFetcher
from app.runtime import Runtime
from app.sources import build_sources


@functools.cache
def embedder() -> StaticEmbedder:
    """The real bundled embedding model, loaded once per test process (about 0.2 s)."""
    return build_embedder()


def llm_deps(settings: Settings) -> dict[str, Any]:
    """`llm=` and `pdfs=` for the LLM service functions, as a process would build them."""
    return {"llm": build_llm(settings), "pdfs": PdfFetcher(settings)}


def app_deps(settings: Settings) -> dict[str, Any]:
    """What `start_http` / `build_app` take besides settings and engine."""
    return {
        **llm_deps(settings),
        "sources": build_sources(settings),
        "embedder": embedder(),
        "s2": Runtime(settings).s2,  # only the S2 client is built (Runtime builds on first use)
    }


def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the `paperboy` CLI as a subprocess against these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "SLACK"))}
    for name, value in settings.model_dump().items():
        if value is None:
            env.pop(name.upper(), None)
            continue
        if isinstance(value, list):
            value = ",".join(value)
        elif hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    return env


PAPERBOY = str(Path(sys.executable).parent / "paperboy")


def run_cli(
    cfg: Settings, *args: str, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    """`paperboy ARGS` as a subprocess against `cfg`, on a wide terminal, output captured."""
    return subprocess.run(
        [PAPERBOY, *args],
        env={**cli_env(cfg), "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
