"""A new arXiv version of a followed paper gets a new card, whatever the paper's age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakes.arxiv_api import FakeArxiv, arxiv_paper
from llm_helpers import llm_settings
from paper_helpers import paper_of
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.interactions import record_post, save_paper
from app.db.jobs import enqueue
from app.db.models import LlmJob, Paper, Summary
from app.ingest import fetch_paper_on_demand, run_ingest
from app.llm.cards import card_for
from app.sources import Source, build_sources
from app.worker import drain
from tests.deps import embedder, llm_deps

OLD = datetime.now(UTC) - timedelta(days=300)  # far older than any window that queues cards
V1 = "Sparse attention is slow on GPUs. We make it fast with tiling. It runs 2x faster."
V2 = "Sparse attention is fast now. We add a new kernel for long inputs. It runs 5x faster."


def ingest(cfg: Settings, engine: Engine) -> str:
    report = run_ingest(
        cfg, engine, sources=build_sources(cfg), source="arxiv", days=400, embedder=embedder()
    )
    return report.sources[0].line()


def arxiv_only(cfg: Settings) -> list[Source]:
    return [s for s in build_sources(cfg) if s.name == "arxiv"]


def card_jobs(session: Session) -> dict[str, str]:
    """Live card jobs: arXiv id -> state."""
    session.expire_all()
    rows = session.execute(
        select(Paper.arxiv_id, LlmJob.state)
        .join(Paper, Paper.id == LlmJob.paper_id)
        .where(LlmJob.kind == "card", LlmJob.state.in_(("pending", "running")))
    )
    return {str(a): str(state) for a, state in rows}


def test_a_new_version_of_a_saved_or_posted_paper_queues_a_new_card(
    settings: Settings, engine: Engine, session: Session, arxiv_fake: FakeArxiv, anthropic_fake
) -> None:
    cfg = llm_settings(
        settings,
        anthropic_fake,
        arxiv_api_url=arxiv_fake.url,
        arxiv_categories=["cs.CL"],
        arxiv_num_retries=1,
    )
    ids = ("2611.00001", "2611.00002", "2611.00003")  # saved, posted in a channel, neither
    arxiv_fake.add(*(arxiv_paper(i, abstract=V1, published=OLD) for i in ids))
    ingest(cfg, engine)
    for arxiv_id in ids:
        enqueue(session, kind="card", arxiv_id=arxiv_id)
    session.commit()
    assert drain(cfg, engine, **llm_deps(cfg)).summarized == 3
    save_paper(session, user_id="U1", arxiv_id="2611.00001")
    record_post(session, channel_id="C1", ts="1.0", kind="paper", arxiv_id="2611.00002")
    session.commit()

    arxiv_fake.add(
        *(arxiv_paper(i, version=2, abstract=V2, published=OLD, updated=OLD) for i in ids)
    )
    line = ingest(cfg, engine)

    assert card_jobs(session) == {"2611.00001": "pending", "2611.00002": "pending"}
    assert "2 new version(s) queued for a new card" in line
    # Until the new card is written, readers keep the old one.
    old = card_for(session, paper=paper_of(session, "2611.00001"), settings=cfg)
    assert old.tldr.startswith("Sparse attention is slow")

    assert drain(cfg, engine, **llm_deps(cfg)).summarized == 2
    session.expire_all()
    new = card_for(session, paper=paper_of(session, "2611.00001"), settings=cfg)
    assert new.tldr.startswith("Sparse attention is fast now") and not new.extractive
    kept = session.scalars(
        select(Summary.paper_version)
        .join(Paper, Paper.id == Summary.paper_id)
        .where(Paper.arxiv_id == "2611.00001", Summary.kind == "card")
        .order_by(Summary.paper_version)
    )
    assert list(kept) == [1, 2]  # the old card stays, as history
    unfollowed = card_for(session, paper=paper_of(session, "2611.00003"), settings=cfg)
    assert unfollowed.tldr.startswith("Sparse attention is slow")

    # Seen again (a third ingest, or an on-demand lookup): nothing more to do.
    ingest(cfg, engine)
    fetch_paper_on_demand(
        cfg, engine, arxiv_id="2611.00002", sources=arxiv_only(cfg), embedder=embedder()
    )
    assert card_jobs(session) == {}


def test_an_on_demand_lookup_of_a_new_version_queues_a_new_card(
    settings: Settings, engine: Engine, session: Session, arxiv_fake: FakeArxiv, anthropic_fake
) -> None:
    cfg = llm_settings(settings, anthropic_fake, arxiv_api_url=arxiv_fake.url)
    arxiv_fake.add(arxiv_paper("2611.00001", abstract=V1, published=OLD))
    sources = arxiv_only(cfg)
    fetch_paper_on_demand(cfg, engine, arxiv_id="2611.00001", sources=sources, embedder=embedder())
    enqueue(session, kind="card", arxiv_id="2611.00001")
    session.commit()
    drain(cfg, engine, **llm_deps(cfg))
    save_paper(session, user_id="U1", arxiv_id="2611.00001")
    session.commit()

    arxiv_fake.add(arxiv_paper("2611.00001", version=2, abstract=V2, published=OLD))
    fetch_paper_on_demand(
        cfg, engine, arxiv_id="2611.00001v2", sources=sources, embedder=embedder()
    )

    assert card_jobs(session) == {"2611.00001": "pending"}
