"""PDF downloads have a total deadline and a size cap, not only a per-read timeout (issue 10):
a host that trickles bytes is cut off at the deadline, and the paper falls back to its
abstract."""

from __future__ import annotations

import time

import pytest
from paper_helpers import memory_paper

from app.errors import SourceError
from app.llm.fulltext import PdfFetcher, full_text, pdf_url

PAGE = "Learned sparse retrieval with expanded terms and learned weights. " * 40


def test_a_trickling_host_is_cut_off_at_the_deadline(settings, pdf_server):
    # One byte every 0.3 s: each read is far inside the 30 s per-read timeout, so without a
    # total deadline this download would take minutes.
    pdf_server.trickle("2601.00001v1", [PAGE], every_s=0.3)
    cfg = settings.model_copy(update={"arxiv_pdf_url": pdf_server.url + "/pdf"})
    pdfs = PdfFetcher(cfg, deadline_s=1.5)
    started = time.monotonic()
    with pytest.raises(SourceError, match="longer than 1.5 s"):
        pdfs.download(pdf_url(cfg, arxiv_id="2601.00001", version=1))
    assert 1.4 < time.monotonic() - started < 2.5


def test_a_deadline_counts_redirects_too(settings, pdf_server):
    pdf_server.trickle("2601.00002v1", [PAGE], every_s=0.3)
    pdf_server.redirect("/pdf/2601.00002", pdf_server.url + "/pdf/2601.00002v1")
    cfg = settings.model_copy(update={"arxiv_pdf_url": pdf_server.url + "/pdf"})
    started = time.monotonic()
    with pytest.raises(SourceError):
        PdfFetcher(cfg, deadline_s=1.0).download(pdf_server.url + "/pdf/2601.00002")
    assert time.monotonic() - started < 2.0


def test_a_prompt_host_is_read_in_full(settings, pdf_server):
    pdf_server.add("2601.00003v1", [PAGE])
    cfg = settings.model_copy(update={"arxiv_pdf_url": pdf_server.url + "/pdf"})
    data = PdfFetcher(cfg, deadline_s=5).download(pdf_url(cfg, arxiv_id="2601.00003", version=1))
    assert data.startswith(b"%PDF")


def test_a_paper_whose_pdf_times_out_falls_back_to_its_abstract(settings, engine, pdf_server):
    pdf_server.trickle("2601.00004v1", [PAGE], every_s=0.3)
    cfg = settings.model_copy(update={"arxiv_pdf_url": pdf_server.url + "/pdf"})
    paper = memory_paper(arxiv_id="2601.00004", version=1)
    started = time.monotonic()
    assert full_text(cfg, engine, pdfs=PdfFetcher(cfg, deadline_s=1.0), paper=paper) is None
    assert time.monotonic() - started < 2.0
