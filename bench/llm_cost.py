"""LLM cost of card summaries: 1,000 papers through the real worker against the fake Anthropic API.

The fake (tests/fakes/anthropic_api.py, started in this process) counts the tokens of the prompts
actually sent at 4 characters a token and caches as the API does: a prefix ending at a
`cache_control` block is cached only when it reaches the floor the fake is given, else the
counters stay at zero. The run is made twice, with the floor at 1,024 tokens (Sonnet 4.x) and at
4,096 (Haiku 4.5, and what Paperboy assumes for a model it does not know), Paperboy told the
same floor (LLM_CACHE_MIN_TOKENS). Papers (abstracts of arXiv length) go into an embedded
PostgreSQL; card jobs are queued and `drain` runs them: at LLM_BATCH_MIN or more they go out as
one Message Batch, CARD_GROUP_SIZE (12) papers per request. Costs come from `llm_calls`, priced
with the default model's list prices (Haiku 5.5: $0.10 in / $0.50 out per million tokens; cache
write 1.25x, read 0.1x; batch half price).

The naive baseline is measured the same way: for each paper, one direct, uncached call per
channel for 5 channels, one paper per call, with the same prompt (no cache_control).

    .venv/bin/python bench/llm_cost.py [--papers 1000] [--channels 5]

Prints one JSON line: {"papers", "usd_per_1000_papers_floor_1024",
"usd_per_1000_papers_floor_4096", "usd_per_1000_papers_naive", "cheaper_than_naive_floor_4096",
"papers_per_call", "drain_s_per_1000", ...}. `drain_s_per_1000` is the wall time of the 4,096
run's drain (the fake answers at once; one batch poll interval of 0.05 s is in it), and
`drain_cpu_s_per_1000` the CPU this process spent in it, which machine load does not inflate.
Targets: usd_per_1000_papers_floor_4096 <= 0.05 and at least 15 times cheaper than naive;
drain_s_per_1000 <= 5.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import anthropic  # noqa: E402
from fakes.anthropic_api import AnthropicFake  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.engine import get_engine, session_scope  # noqa: E402
from app.db.jobs import enqueue_many  # noqa: E402
from app.db.models import LlmCall  # noqa: E402
from app.db.papers import upsert_papers  # noqa: E402
from app.llm.client import Usage  # noqa: E402
from app.llm.cost import cost_usd  # noqa: E402
from app.llm.prompts import PaperData, card_request  # noqa: E402
from app.sources.records import Author, PaperRecord  # noqa: E402
from app.worker import drain  # noqa: E402
from tests.deps import llm_deps  # noqa: E402

MODEL = "claude-haiku-5-5"
TASKS = ["question answering", "code generation", "machine translation", "summarization",
         "retrieval", "mathematical reasoning", "image captioning", "dialogue"]  # fmt: skip
METHODS = ["retrieval-augmented generation", "instruction tuning", "preference optimization",
           "speculative decoding", "sparse attention", "low-rank adaptation",
           "chain-of-thought prompting", "mixture of experts"]  # fmt: skip
DATA = ["Natural Questions", "HumanEval", "WMT22", "GSM8K", "MMLU", "BEIR", "COCO", "MT-Bench"]


def abstract(rng: random.Random) -> tuple[str, str]:
    """A title and an abstract of typical arXiv length (about 1,100-1,500 characters)."""
    task, method, data = rng.choice(TASKS), rng.choice(METHODS), rng.choice(DATA)
    name = "".join(rng.choice("BCDFGKLMPRSTVZ") for _ in range(2)) + rng.choice(
        ["-LM", "Net", "er"]
    )
    gain, cut = rng.randint(2, 15), rng.randint(20, 70)
    sentences = [
        f"Large language models have made rapid progress on {task}, yet they remain costly to "
        f"deploy and brittle when the test distribution drifts away from their training data.",
        f"Existing approaches based on {method} either require expensive retraining for every "
        f"new domain or fail to exploit the structure that is shared across related inputs.",
        f"We propose {name}, a simple framework that combines {method} with a lightweight "
        f"controller deciding, for each input, how much computation and context to spend.",
        "The controller is trained with a small amount of supervision and needs no changes to "
        "the underlying model, which makes it applicable to open and closed models alike.",
        f"On {data} and three further benchmarks, {name} improves accuracy by {gain} points over "
        f"strong baselines while reducing inference cost by {cut}%.",
        f"Ablations show that both the controller and the {method} component are necessary, and "
        f"that the gains grow with model size from 1B to 70B parameters.",
        "We further analyse failure cases and find that most remaining errors come from "
        "ambiguous questions and noisy references rather than from the method itself.",
        "Code, data and trained checkpoints are publicly released to support future research.",
    ]
    title = f"{name}: Adaptive {method.title()} for Efficient {task.title()}"
    return title, " ".join(sentences[: rng.randint(7, 8)])


def records(n: int) -> list[PaperRecord]:
    rng = random.Random(11)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        title, text = abstract(rng)
        out.append(
            PaperRecord(
                arxiv_id=f"2611.{i + 1:05d}",
                version=1,
                title=title,
                abstract=text,
                authors=[Author(f"Author {i} {k}") for k in range(3)],
                categories=["cs.CL", "cs.LG"],
                primary_category="cs.CL",
                published=now - timedelta(hours=i % 24),
                updated=now - timedelta(hours=i % 24),
                source="arxiv",
                source_key="cs.CL",
            )
        )
    return out


def naive(fake_url: str, recs: list[PaperRecord], channels: int) -> tuple[int, Usage]:
    """One direct, uncached call per paper per channel: what a per-channel bot would pay."""
    client = anthropic.Anthropic(api_key="bench", base_url=fake_url, max_retries=0)

    def one(rec: PaperRecord) -> Usage:
        params = card_request(PaperData(rec.arxiv_id, rec.title, rec.abstract)).params(MODEL)
        params["system"] = [
            {k: v for k, v in b.items() if k != "cache_control"} for b in params["system"]
        ]
        return Usage.of(client.messages.create(**params).usage)

    total = Usage()
    with ThreadPoolExecutor(8) as pool:
        for usage in pool.map(one, [r for r in recs for _ in range(channels)]):
            total = total + usage
    return len(recs) * channels, total


def run(recs: list[PaperRecord], floor: int) -> dict[str, Any]:
    """Drain one card job per paper through the real worker against a fake caching from
    `floor` tokens, Paperboy told the same floor (as LLM_CACHE_MIN_TOKENS would)."""
    fake_server = AnthropicFake(min_cache_tokens=floor, batch_polls=0)
    with fake_server as fake, tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            paperboy_data_dir=Path(tmp),
            anthropic_api_key=SecretStr("bench"),
            anthropic_base_url=fake.url,
            paperboy_llm_model=MODEL,
            llm_batch_min=50,
            llm_batch_poll_seconds=0.05,
            llm_daily_budget_usd=Decimal("100"),
            llm_cache_min_tokens=floor,
        )
        engine = get_engine(settings)
        with session_scope(engine) as session:
            upsert_papers(session, records=recs)
            enqueue_many(session, kind="card", items=[(r.arxiv_id, None, 0.0) for r in recs])
        started, cpu = time.perf_counter(), time.process_time()
        report = drain(settings, engine, **llm_deps(settings))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        with session_scope(engine) as session:
            calls, tin, tout, cw, cr, usd = session.execute(
                select(
                    func.count(LlmCall.id),
                    func.sum(LlmCall.input_tokens),
                    func.sum(LlmCall.output_tokens),
                    func.sum(LlmCall.cache_write_tokens),
                    func.sum(LlmCall.cache_read_tokens),
                    func.sum(LlmCall.cost_usd),
                ).where(LlmCall.ok)
            ).one()
        cached = sum("cache_control" in str(b.get("system")) for b in fake.model_requests())
        engine.dispose()
    n = len(recs)
    return {
        "usd": Decimal(usd),
        "calls": int(calls),
        "input_tokens_per_paper": round((tin + cw + cr) / n, 1),
        "output_tokens_per_paper": round(tout / n, 1),
        "cache_read_share_of_input": round(cr / (tin + cw + cr), 3),
        "requests_with_cache_point": cached,
        "summarized": report.summarized,
        "batches": report.batches,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=5)
    args = parser.parse_args()
    recs = records(args.papers)
    n = args.papers

    low = run(recs, 1024)
    high = run(recs, 4096)
    with AnthropicFake(min_cache_tokens=4096) as fake:
        naive_calls, naive_usage = naive(fake.url, recs, args.channels)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    naive_usd = cost_usd(settings, model=MODEL, usage=naive_usage)

    def per_1000(usd: Decimal) -> float:
        return round(float(usd) * 1000 / n, 4)

    result: dict[str, Any] = {
        "papers": n,
        "usd_per_1000_papers_floor_1024": per_1000(low["usd"]),
        "usd_per_1000_papers_floor_4096": per_1000(high["usd"]),
        "usd_per_1000_papers_naive": per_1000(naive_usd),
        "cheaper_than_naive_floor_4096": round(float(naive_usd) / float(high["usd"]), 1),
        "papers_per_call": round(n / high["calls"], 2),
        "drain_s_per_1000": round(high["wall_s"] * 1000 / n, 2),
        # This process's CPU in the drain (the in-process fake's included), not PostgreSQL's.
        "drain_cpu_s_per_1000": round(high["cpu_s"] * 1000 / n, 2),
        "llm_calls": high["calls"],
        "input_tokens_per_paper": high["input_tokens_per_paper"],
        "output_tokens_per_paper": high["output_tokens_per_paper"],
        "cache_read_share_of_input_floor_1024": low["cache_read_share_of_input"],
        "cache_read_share_of_input_floor_4096": high["cache_read_share_of_input"],
        "requests_with_cache_point_floor_4096": high["requests_with_cache_point"],
        "batches": high["batches"],
        "summarized": high["summarized"],
        "naive_llm_calls": naive_calls,
        "abstract_chars_avg": round(sum(len(r.abstract) for r in recs) / n),
        "model": MODEL,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
