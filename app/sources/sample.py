"""The bundled sample feed (app/sample_data/), read in place of the network when offline.

The files are real wire formats (arXiv Atom pages, Hugging Face daily_papers JSON) parsed by the
same code as live responses. Their dates are written relative to the manifest's `anchor`; every
date is shifted by whole days so the newest sample paper is from the last day: the demo always
looks recent. Regenerate the files with tools/gen_sample_data.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.sources.arxiv import ArxivPage, parse_page
from app.sources.base import Chunk, FetchContext
from app.sources.huggingface import PRIORITY as HF_PRIORITY
from app.sources.huggingface import HFPage, parse_items
from app.sources.records import ARXIV_PRIORITY, PaperRecord

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"


class SampleFeed:
    def __init__(self, *, now: datetime | None = None, directory: Path = SAMPLE_DIR) -> None:
        self._dir = directory
        self._manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
        anchor = datetime.fromisoformat(self._manifest["anchor"].replace("Z", "+00:00"))
        now = now or datetime.now(UTC)
        # Whole days, rounded down: the shifted anchor is never in the future.
        self.shift = timedelta(days=(now - anchor).days)
        self._now = now

    def arxiv_pages(self) -> Iterator[ArxivPage]:
        for name in self._manifest["arxiv_pages"]:
            page = parse_page((self._dir / name).read_bytes())
            page.records = [
                self._shifted(r, source_key=r.primary_category or "") for r in page.records
            ]
            yield page

    def hf_daily(self) -> Iterator[tuple[date, HFPage]]:
        for day_text, name in sorted(self._manifest["hf_daily"].items(), reverse=True):
            day = date.fromisoformat(day_text) + self.shift
            page = self._hf_page(name, source="hf_daily", source_key=day.isoformat())
            yield day, page

    def hf_trending(self) -> HFPage:
        page = self._hf_page(self._manifest["hf_trending"], source="hf_trending", source_key="")
        for record in page.records:
            record.signals["first_trending_at"] = self._now.isoformat()
        return page

    def lookup(self, arxiv_id: str) -> list[PaperRecord]:
        """Every sample record of one paper (arXiv and Hugging Face), for on-demand fetches."""
        found = [r for page in self.arxiv_pages() for r in page.records if r.arxiv_id == arxiv_id]
        for r in found:
            r.source = "on_demand"
        for _, page in self.hf_daily():
            found += [r for r in page.records if r.arxiv_id == arxiv_id]
        return found

    def hf_lookup(self, arxiv_id: str) -> list[PaperRecord]:
        return [r for _, page in self.hf_daily() for r in page.records if r.arxiv_id == arxiv_id]

    def _hf_page(self, name: str, *, source: str, source_key: str) -> HFPage:
        payload = json.loads((self._dir / name).read_text(encoding="utf-8"))
        page = parse_items(payload, source=source, source_key=source_key)
        page.records = [self._shifted(r, source_key=source_key) for r in page.records]
        return page

    def _shifted(self, record: PaperRecord, *, source_key: str) -> PaperRecord:
        shift = self.shift
        return replace(
            record,
            published=record.published + shift if record.published else None,
            updated=record.updated + shift if record.updated else None,
            signals=_shift_day(record.signals, "first_featured_on", shift),
            source_key=source_key,
        )


class SampleSource:
    """The bundled feed standing in for one live source ("arxiv" or "hf") when offline."""

    def __init__(self, kind: str, feed: SampleFeed | None = None) -> None:
        if kind not in ("arxiv", "hf"):
            raise ValueError(f"no sample data for {kind!r}")
        self.name = kind
        self.priority = ARXIV_PRIORITY if kind == "arxiv" else HF_PRIORITY
        self._feed = feed or SampleFeed()

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        if self.name == "arxiv":
            context.progress("arXiv: reading the bundled sample feed")
            chunk = Chunk("sample")
            pages: Sequence[ArxivPage | HFPage] = list(self._feed.arxiv_pages())
        else:
            context.progress("Hugging Face: reading the bundled sample feed")
            chunk = Chunk("all")
            pages = [page for _, page in self._feed.hf_daily()] + [self._feed.hf_trending()]
        for page in pages:
            chunk.records += page.records
            chunk.skipped += page.skipped
        yield chunk

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        found: list[PaperRecord] = []
        for arxiv_id in ids.get("arxiv", ()):
            if self.name == "hf":
                found += self._feed.hf_lookup(arxiv_id)
            else:
                found += [r for r in self._feed.lookup(arxiv_id) if r.provider == "arxiv"]
        return found

    def run_params(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        pass


def _shift_day(signals: dict[str, Any], key: str, shift: timedelta) -> dict[str, Any]:
    if not signals.get(key):
        return signals
    return {**signals, key: (date.fromisoformat(signals[key]) + shift).isoformat()}
