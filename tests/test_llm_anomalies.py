"""Upstream anomalies from the Anthropic API never strand work (issue 10, findings 3 and 4):
a malformed 200 or a request the API rejects for good ends in the extractive fallback, a batch
that is gone, expired, canceled or never ends releases its jobs to run one by one, and failed
polls count as attempts. Everything runs against the fake Anthropic API over real HTTP."""

from __future__ import annotations

import pytest
from llm_helpers import add_paper, jobs, llm_settings, summaries
from slack_cmd_support import CHANNEL, all_text, message_event, post_paper, thread_posts, wait_for
from slack_helpers import running_llm_app
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import LlmJob
from app.slack.blocks import EXTRACTIVE_ANSWER
from app.worker import drain, enqueue
from tests.deps import llm_deps


def _queue_cards(session: Session, count: int) -> list[str]:
    ids = [f"2612.{n:05d}" for n in range(1, count + 1)]
    for arxiv_id in ids:
        add_paper(session, arxiv_id)
        enqueue(session, kind="card", arxiv_id=arxiv_id)
    session.commit()
    return ids


def _running(session: Session) -> list[LlmJob]:
    return [j for j in jobs(session) if j.state == "running"]


class TestDirectCalls:
    def test_a_malformed_200_ends_in_the_marked_fallback_not_a_stranded_job(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        (arxiv_id,) = _queue_cards(session, 1)
        anthropic_fake.malformed(times=2)  # the call and its one retry

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.fallbacks == 1 and not _running(session)
        (job,) = jobs(session)
        assert job.state == "done" and "malformed reply" in (job.last_error or "")
        assert summaries(session)[arxiv_id].extractive

    @pytest.mark.parametrize("status", [400, 404, 413, 422])
    def test_a_request_the_api_rejects_for_good_ends_in_the_fallback(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake, status: int
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        (arxiv_id,) = _queue_cards(session, 1)
        anthropic_fake.error(status, message="no such thing")

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.fallbacks == 1 and report.dead == 0
        assert jobs(session)[0].state == "done"
        assert summaries(session)[arxiv_id].extractive


class TestBatches:
    @pytest.mark.parametrize("fate", ["missing", "expired", "canceled"])
    def test_a_batch_that_is_gone_releases_its_jobs_to_run_one_by_one(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake, fate: str
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5)
        ids = _queue_cards(session, 6)
        anthropic_fake.batch_fate = fate

        report = drain(cfg, engine, **llm_deps(cfg))

        assert not _running(session)
        assert report.batches == 1 and len(anthropic_fake.batch_requests) == 1
        assert report.summarized == 6 and set(summaries(session)) == set(ids)
        assert len(anthropic_fake.message_requests) == 6  # retried individually
        assert all(j.attempts == 2 for j in jobs(session))  # the batch's try counted

    def test_polling_has_a_deadline(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(
            settings, anthropic_fake, llm_batch_min=5, llm_batch_deadline_seconds=0.3
        )
        _queue_cards(session, 5)
        anthropic_fake.batch_polls = 10**6  # in_progress forever

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.summarized == 5 and not _running(session)
        assert len(anthropic_fake.message_requests) == 5

    def test_failed_polls_count_as_attempts_until_the_jobs_are_released(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5, llm_max_attempts=3)
        _queue_cards(session, 5)
        session.execute(update(LlmJob).values(max_attempts=3))
        session.commit()
        anthropic_fake.batch_poll_errors = 10**6  # every retrieve answers 500

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.dead == 5 and not _running(session)
        assert all(j.state == "dead" and j.attempts == 3 for j in jobs(session))
        assert all("polling batch" in (j.last_error or "") for j in jobs(session))


class TestSlackQuestions:
    def test_a_garbage_reply_gets_the_marked_extractive_answer_never_an_apology(
        self, settings, engine, slack_fake, anthropic_fake, pdf_server
    ):
        with Session(engine) as session:
            add_paper(session, "2401.00001")
        anthropic_fake.malformed("<html>502 Bad Gateway</html>", times=2)
        with running_llm_app(
            settings, slack_fake, engine=engine, anthropic=anthropic_fake, pdf_server=pdf_server
        ) as server:
            post_ts = post_paper(server.slack, engine, "2401.00001")
            q = "<@UPAPERBOY> How many fewer retrieval calls does LazyRAG issue?"
            m = server.slack.add_message(CHANNEL, q, thread_ts=post_ts)
            server.event(message_event(q, ts=m["ts"], thread_ts=post_ts))
            answer = wait_for(
                lambda: (posts := thread_posts(server.slack, post_ts)) and posts[0],
                what="an answer in the thread",
            )
        shown = all_text(answer)
        assert "62% fewer retrieval calls" in shown
        assert EXTRACTIVE_ANSWER in shown
        assert "error id" not in shown.lower() and "sorry" not in shown.lower()
        with Session(engine) as session:
            assert session.scalars(select(LlmJob).where(LlmJob.state == "running")).all() == []
