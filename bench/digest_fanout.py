"""Digest fan-out: 200 channels, 8 papers each, posted through one `run_due_digests` call.

The fake Slack Web API (tests/fakes/slack_api.py) runs in a child process, answers every call in
50 ms and enforces one message per second per channel (429 when faster), as Slack roughly does.
This process plays `paperboy serve`: it posts, and its peak RSS is what we report.

    .venv/bin/python bench/digest_fanout.py [--channels 200] [--papers 8]

Prints one JSON line: {"channels", "messages", "wall_s", "ideal_s", "ratio", "rate_limited",
"peak_rss_mb"}. ideal_s is the per-channel pacing floor: (messages per channel - 1) x interval
+ one round trip. Targets: wall_s <= 1.5 x ideal_s, peak_rss_mb < 300.
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.slack.poster import SlackPoster

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pydantic import SecretStr  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import channels as channel_db  # noqa: E402
from app.db.engine import get_engine, session_scope  # noqa: E402
from app.db.papers import upsert_papers  # noqa: E402
from app.digest import DigestOutcome, run_due_digests  # noqa: E402
from app.slack.poster import make_web_client  # noqa: E402
from app.sources.huggingface import PRIORITY as HF_PRIORITY  # noqa: E402
from app.sources.records import Author, PaperRecord  # noqa: E402
from app.topics import follow  # noqa: E402

LATENCY = 0.05
INTERVAL = 1.0
TOPICS = 25


def serve_fake(conn: Any) -> None:
    """Child process: the fake Slack, until told to stop; then report what it saw."""
    from fakes.slack_api import FakeSlack

    with FakeSlack(latency=LATENCY, enforce_channel_rate=True, channel_interval=INTERVAL) as fake:
        conn.send(fake.url)
        conn.recv()
        posts = fake.calls_to("chat.postMessage")
        conn.send(
            {
                "accepted": sum(1 for c in posts if c.ok),
                "rate_limited": fake.rate_limited,
                "rejected": sum(1 for c in posts if c.status == 200 and not c.ok),
            }
        )


def seed(settings: Settings, channels: int, papers: int) -> None:
    engine = get_engine(settings)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for t in range(TOPICS):
            word = f"fanoutword{t}"
            records = [
                PaperRecord(
                    arxiv_id=f"2601.{t:02d}{i:03d}",
                    title=f"A study of {word}, part {i}",
                    abstract=f"We study {word} and report results on several benchmarks. " * 8,
                    authors=[Author(f"Author {j}") for j in range(5)],
                    categories=["cs.CL"],
                    primary_category="cs.CL",
                    published=now - timedelta(hours=i),
                )
                for i in range(papers + 2)
            ]
            upvotes = [  # Hugging Face's view of the same papers: its upvotes are its signals
                replace(r, provider="hf", priority=HF_PRIORITY, signals={"upvotes": i})
                for i, r in enumerate(records)
            ]
            upsert_papers(session, records=records + upvotes)
        session.flush()
        for c in range(channels):
            channel_id = f"CBENCH{c:04d}"
            follow(session, channel_id=channel_id, topic_name=f"fanoutword{c % TOPICS}")
            channel_db.update_channel(session, channel_id=channel_id, max_papers=papers)
            channel_db.set_schedule(
                session, channel_id=channel_id, cron="0 * * * *", timezone="UTC"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--papers", type=int, default=8)
    args = parser.parse_args()

    parent, child = mp.Pipe()
    fake = mp.get_context("spawn").Process(target=serve_fake, args=(child,), daemon=True)
    fake.start()
    url = parent.recv()
    # Removed at exit, after the embedded PostgreSQL's own exit hook has stopped it (atexit runs
    # hooks last-registered first; a TemporaryDirectory would vanish under the running server).
    tmp = tempfile.mkdtemp(prefix="paperboy-bench-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        paperboy_data_dir=Path(tmp),
        slack_api_url=url,
        slack_bot_token=SecretStr("xoxb-bench"),
        slack_channel_interval_seconds=INTERVAL,
    )
    seed(settings, args.channels, args.papers)
    engine = get_engine(settings)
    client = make_web_client(settings)
    started = time.perf_counter()
    # The same call the scheduler's minute tick makes, with the default pacer.
    results = run_due_digests(settings, engine, SlackPoster(client), datetime.now(UTC))
    wall = time.perf_counter() - started
    engine.dispose()
    parent.send("stop")
    stats = parent.recv()
    fake.join(10)
    per_channel = args.papers + 1  # header + papers
    ideal = (per_channel - 1) * INTERVAL + LATENCY
    failed = [r for r in results if r.status != DigestOutcome.POSTED]
    print(
        json.dumps(
            {
                "channels": len(results),
                "messages": stats["accepted"],
                "wall_s": round(wall, 2),
                "ideal_s": round(ideal, 2),
                "ratio": round(wall / ideal, 2),
                "rate_limited": stats["rate_limited"],
                "failed_channels": len(failed),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
