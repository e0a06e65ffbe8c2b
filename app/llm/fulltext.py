"""Full text for deep summaries and questions: the paper's arXiv PDF, read with pypdf.

What is fetched is always `ARXIV_PDF_URL/<id>v<version>`, built from the arXiv id: an operator
setting, never a link taken from paper data (a Hugging Face record or an abstract can say
anything). Redirects are followed by hand and only to arXiv, Hugging Face or that base. The
text is cut to FULLTEXT_MAX_TOKENS (about 4 characters a token) and cached in `paper_texts`, so
a paper is downloaded once per version. Any failure means "no full text": callers use the
abstract instead.

A download has a total deadline (PDF_DEADLINE_S), not only httpx's per-read timeout: a host
that sends one byte every few seconds would otherwise hold a background thread for minutes
(issue 10). The body is streamed, cut at MAX_PDF_BYTES, and at the deadline a watchdog shuts
the socket down, which wakes the blocked read at once.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
import time
from urllib.parse import urljoin

import httpx
from pypdf import PdfReader
from sqlalchemy import Engine

from app.config import Settings
from app.db.engine import session_scope
from app.db.models import Paper
from app.db.papers import arxiv_id_of
from app.db.summaries import get_text, store_text
from app.errors import SourceError, UnsafeLinkError
from app.llm.cost import CHARS_PER_TOKEN
from app.safety import clean_text, is_allowed_url, normalize_url

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 40 * 1024 * 1024
MAX_REDIRECTS = 3
# Wall-clock budget for one PDF, redirects included: 40 MB in a minute is ~5 Mbit/s, and most
# arXiv PDFs are a few MB. Past it the deep summary or answer uses the abstract.
PDF_DEADLINE_S = 60.0
_BLANKS = re.compile(r"[ \t\u00a0]+")
_LINES = re.compile(r"\n{3,}")


def pdf_url(settings: Settings, *, arxiv_id: str, version: int) -> str:
    return f"{settings.arxiv_pdf_url.rstrip('/')}/{arxiv_id}v{version}"


def may_fetch(settings: Settings, url: str) -> bool:
    """arXiv and Hugging Face hosts (app.safety), or the configured PDF base itself; both
    compared after normalising, so `<base>/../elsewhere` is not under the base."""
    normal = normalize_url(url)
    base = normalize_url(settings.arxiv_pdf_url.rstrip("/") + "/")
    if normal is None:
        return False
    return is_allowed_url(normal) or (base is not None and normal.startswith(base))


def extract_text(data: bytes, *, max_chars: int) -> tuple[str, bool]:
    """Text of a PDF, pages in order, cut at max_chars: (text, truncated)."""
    reader = PdfReader(io.BytesIO(data))
    parts: list[str] = []
    size = 0
    for page in reader.pages:
        page_text = _BLANKS.sub(" ", page.extract_text() or "").strip()
        parts.append(page_text)
        size += len(page_text) + 2
        if size > max_chars:
            break
    text = _LINES.sub("\n\n", clean_text("\n\n".join(parts))).strip()
    return text[:max_chars], len(text) > max_chars or len(parts) < len(reader.pages)


class PdfFetcher:
    """Downloads PDFs from allowed URLs over one HTTP client, built once per process
    (app/runtime.py) and shared by every deep summary and question."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.Client | None = None,
        *,
        deadline_s: float = PDF_DEADLINE_S,
    ) -> None:
        self.settings = settings
        self.deadline_s = deadline_s
        self.client = client or httpx.Client(
            timeout=settings.http_timeout_seconds, follow_redirects=False
        )

    def download(self, url: str) -> bytes:
        """GET a PDF from an allowed URL, following redirects only to allowed URLs; SourceError
        past `deadline_s` or MAX_PDF_BYTES."""
        deadline = time.monotonic() + self.deadline_s
        for _ in range(MAX_REDIRECTS + 1):
            if not may_fetch(self.settings, url):
                raise UnsafeLinkError(f"not fetching {url}: only arXiv and Hugging Face")
            left = deadline - time.monotonic()
            if left <= 0:
                raise SourceError(f"PDF download took longer than {self.deadline_s:g} s")
            # Connecting and reading the headers: no read may wait past the deadline either.
            timeout = httpx.Timeout(min(self.settings.http_timeout_seconds, left))
            with self.client.stream(
                "GET", url, follow_redirects=False, timeout=timeout
            ) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise SourceError(f"PDF download failed: HTTP {response.status_code}")
                return self._read(response, deadline)
        raise SourceError("too many redirects")

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PDF_BYTES:
            raise SourceError("PDF larger than 40 MB")
        watchdog = _Watchdog(response, deadline)
        data = bytearray()
        try:
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_PDF_BYTES:
                    raise SourceError("PDF larger than 40 MB")
                if time.monotonic() >= deadline:
                    break
        except httpx.HTTPError:
            if not watchdog.fired:
                raise
        finally:
            watchdog.cancel()
        if watchdog.fired or time.monotonic() >= deadline:
            raise SourceError(f"PDF download took longer than {self.deadline_s:g} s")
        return bytes(data)

    def close(self) -> None:
        self.client.close()


class _Watchdog:
    """Shuts the response's socket down at `deadline`: a read blocked on a trickling host
    returns at once (closing the socket from another thread would not wake it)."""

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self.fired = False
        stream = response.extensions.get("network_stream")
        self._sock = stream.get_extra_info("socket") if stream is not None else None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        if self._sock is not None:
            # OSError: already closed, the download ended just as the timer fired.
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def full_text(settings: Settings, engine: Engine, *, pdfs: PdfFetcher, paper: Paper) -> str | None:
    """The paper's text (cached per version), or None when it cannot be had."""
    version = paper.version or 1
    with session_scope(engine) as session:
        cached = get_text(session, arxiv_id=arxiv_id_of(paper), min_version=version)
        if cached is not None:
            return cached.text
    url = pdf_url(settings, arxiv_id=arxiv_id_of(paper), version=version)
    try:
        data = pdfs.download(url)
        text, truncated = extract_text(
            data, max_chars=settings.fulltext_max_tokens * CHARS_PER_TOKEN
        )
    except (SourceError, UnsafeLinkError, httpx.HTTPError) as exc:
        log.warning("no full text for %s: %s", paper.arxiv_id, exc)
        return None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on broken PDFs
        log.warning("unreadable PDF for %s: %s: %s", paper.arxiv_id, type(exc).__name__, exc)
        return None
    if len(text) < 200:  # a scanned or empty PDF: the abstract is better than nothing
        return None
    with session_scope(engine) as session:
        store_text(
            session,
            arxiv_id=arxiv_id_of(paper),
            version=version,
            text=text,
            source_url=url,
            truncated=truncated,
        )
    return text
