"""What the composition root (app/runtime.py) would pass down, built the same way for tests."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.llm.client import build_llm
from app.llm.fulltext import PdfFetcher


def llm_deps(settings: Settings) -> dict[str, Any]:
    """`llm=` and `pdfs=` for the LLM service functions, as a process would build them."""
    return {"llm": build_llm(settings), "pdfs": PdfFetcher(settings)}
