"""The prompt-cache floor: a cache point is sent only where the model can cache the prefix."""

from __future__ import annotations

import logging

import pytest
from fakes.anthropic_api import AnthropicFake
from llm_helpers import add_paper, calls, llm_settings
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.jobs import enqueue
from app.llm.cache_floor import UNKNOWN_FLOOR, min_cache_tokens
from app.llm.prompts import CARD_GROUP_SIZE
from app.worker import drain
from tests.deps import llm_deps


def _card_now(session: Session, cfg: Settings, engine: Engine, arxiv_id: str) -> None:
    add_paper(session, arxiv_id)
    enqueue(session, kind="card", arxiv_id=arxiv_id)
    session.commit()
    drain(cfg, engine, **llm_deps(cfg))


def _count_requests(fake: AnthropicFake) -> int:
    return sum(r.path == "/v1/messages/count_tokens" for r in fake.requests)


class TestTable:
    @pytest.mark.parametrize(
        ("model", "floor"),
        [
            ("claude-haiku-4-5-20251001", 4096),
            ("claude-3-5-haiku-latest", 2048),
            ("claude-3-haiku-20240307", 2048),
            ("claude-sonnet-4-5", 1024),
            ("claude-opus-4-5", 4096),
            ("claude-haiku-5-5", UNKNOWN_FLOOR),
        ],
    )
    def test_each_model_has_its_floor_and_unknown_ones_the_highest(
        self, model: str, floor: int
    ) -> None:
        assert min_cache_tokens(model) == floor
        assert UNKNOWN_FLOOR == 4096

    def test_the_setting_overrides_the_table(self) -> None:
        assert min_cache_tokens("claude-haiku-4-5", 1024) == 1024


class TestCachePoints:
    def test_no_cache_point_below_the_floor(self, settings: Settings, engine: Engine, session):
        with AnthropicFake(min_cache_tokens=4096) as fake:
            cfg = llm_settings(settings, fake)  # claude-haiku-5-5: not in the table, 4,096
            _card_now(session, cfg, engine, "2611.00001")
            _card_now(session, cfg, engine, "2611.00002")

            bodies = fake.message_requests
            assert len(bodies) == 2
            assert all("cache_control" not in b for body in bodies for b in body["system"])
            # About 1,100 tokens against 4,096: clearly below, nothing to count.
            assert _count_requests(fake) == 0
        assert all(c.cache_write_tokens == c.cache_read_tokens == 0 for c in calls(session))

    def test_a_prefix_above_the_floor_is_cached_and_read_back(
        self, settings: Settings, engine: Engine, session: Session
    ) -> None:
        with AnthropicFake(min_cache_tokens=1024) as fake:
            cfg = llm_settings(settings, fake, llm_cache_min_tokens=1024)
            for n in range(CARD_GROUP_SIZE + 1):  # two calls: a full group, then one paper
                add_paper(session, f"2611.{n + 1:05d}")
                enqueue(session, kind="card", arxiv_id=f"2611.{n + 1:05d}")
            session.commit()
            drain(cfg, engine, **llm_deps(cfg))

            first, second = fake.message_requests
            assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
            # Near the floor the estimate is not enough: counted once, then remembered.
            assert _count_requests(fake) == 1
        one, two = calls(session)
        assert one.cache_write_tokens > 1000 and one.cache_read_tokens == 0
        assert two.cache_read_tokens == one.cache_write_tokens and two.cache_write_tokens == 0


class TestNoCacheTokensWarning:
    def test_a_cache_point_that_caches_nothing_is_reported_once_with_the_model(
        self, settings: Settings, engine: Engine, session: Session, caplog
    ) -> None:
        model = "claude-test-floor-warning"  # the warning is once per process and model
        with AnthropicFake(min_cache_tokens=4096) as fake, caplog.at_level(logging.WARNING):
            # Told the floor is 1,024 while the model's real one is 4,096.
            cfg = llm_settings(settings, fake, paperboy_llm_model=model, llm_cache_min_tokens=1024)
            _card_now(session, cfg, engine, "2611.00001")
            _card_now(session, cfg, engine, "2611.00002")

            assert all("cache_control" in body["system"][0] for body in fake.message_requests)
        warned = [r for r in caplog.records if "no cache tokens" in r.getMessage()]
        assert len(warned) == 1 and model in warned[0].getMessage()
        assert "LLM_CACHE_MIN_TOKENS" in warned[0].getMessage()
