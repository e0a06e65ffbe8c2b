"""What the composition root (app/runtime.py) would pass down, built the same way for tests."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.llm.client import build_llm
from app.llm.fulltext import PdfFetcher
from app.sources import build_sources


def llm_deps(settings: Settings) -> dict[str, Any]:
    """`llm=` and `pdfs=` for the LLM service functions, as a process would build them."""
    return {"llm": build_llm(settings), "pdfs": PdfFetcher(settings)}


def app_deps(settings: Settings) -> dict[str, Any]:
    """What `start_http` / `build_app` take besides settings and engine."""
    return {**llm_deps(settings), "sources": build_sources(settings)}
