"""Chaos run: `paperboy serve` (HTTP mode), a `paperboy worker` and a `paperboy scheduler`, all
real subprocesses, against the fakes of tests/fakes, while faults are injected and a steady
stream of signed slash commands and thread events comes in.

    .venv/bin/python bench/chaos.py [--seconds 180] [--rate 1.0] [--event-rate 0.5]

The bench owns the embedded PostgreSQL (the processes get its DATABASE_URL) and the fakes
(Slack Web API and response_urls, Anthropic, arXiv, Hugging Face, a PDF host). Faults, at fixed
fractions of --seconds: Slack 429 and 500 bursts and Anthropic 529 and malformed-200 bursts all
along; a PDF host that drips one byte every 2 s from 20% to 50%; PostgreSQL stopped at 45% for
--db-down seconds; `kill -9` of the worker at 70% (restarted 5 s later). Channels get a digest
every two minutes (cron `*/2 * * * *`, written directly: the app refuses more than hourly).
Events that get no 2xx within 3 s are redelivered as Slack does (X-Slack-Retry-Num, after 1, 5
and 15 s). LLM_LEASE_SECONDS is 30 (a killed worker's jobs come back within the run) and
LLM_RETRY_BASE_SECONDS 5. After the run, faults stop and everything gets up to --settle seconds
(at least the lease and 30 s more) to catch up: answers owed and LLM jobs still live.

Prints one JSON line: {"commands", "acked_in_3s", "answered", "events", "events_answered",
"digests_owed", "digests_delivered", "duplicate_posts", "stranded_jobs", ...}. An apology
("Sorry, something went wrong", or "try again") counts as an answer only for a request sent
while PostgreSQL was down (from 5 s before it stopped, in flight then, to 2 s after it
started). Owed digests: each channel's cron times from the first one after start-up to the end
of the run; delivered: runs whose every message reached Slack. Duplicates: a digest message
(run, position) posted twice, a second non-apology reply to one event or one response_url.
Stranded: LLM jobs still `running`, or `pending` and overdue by a minute, at the end.
Targets: every command acked in 3 s and answered; 0 duplicate posts; digests_delivered ==
digests_owed; 0 stranded jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from chaos_fakes import ChaosAnthropic, ChaosSlack, DripPdfHost, EmbeddedPostgres  # noqa: E402
from chaos_traffic import Processes, Traffic, is_apology  # noqa: E402
from fakes.arxiv_api import FakeArxiv  # noqa: E402
from fakes.hf_api import FakeHF  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from synthetic import generate  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.engine import get_engine, session_scope  # noqa: E402
from app.db.models import DigestRun  # noqa: E402
from app.db.papers import upsert_papers  # noqa: E402
from app.sources.records import PaperRecord  # noqa: E402
from app.topics import follow  # noqa: E402

SECRET = "chaos-signing-secret"
TOPICS = ["language model", "reinforcement learning", "diffusion models", "graph neural network"]
DIGEST_CRON = "*/2 * * * *"
DIGEST_EVERY = timedelta(minutes=2)
LEASE_S = 30  # LLM_LEASE_SECONDS: a killed worker's jobs come back within the run
FRESH_EVERY_S = 60  # new papers "arrive" this often (the bench writes them, as ingest would)
FRESH_BATCH = 40
FRESH_TOTAL = 40 * 20


def seed(engine, channels: list[str], papers: int) -> list[PaperRecord]:  # type: ignore[no-untyped-def]
    """Papers (the newest few hundred from the last two days, for digests), and channels each
    following one topic on a two-minute digest schedule. Returns papers kept back, for Faults
    to add as they "arrive" during the run, so each digest has something new."""
    now = datetime.now(UTC)
    records = list(generate(papers + FRESH_TOTAL, now=now))
    fresh, records = records[papers:], records[:papers]
    for i in range(max(0, len(records) - 300), len(records)):
        when = now - timedelta(hours=(len(records) - i) / 6)
        records[i] = replace(records[i], published=when, updated=when)
    with session_scope(engine) as session:
        upsert_papers(session, records=records)
    with session_scope(engine) as session:
        for channel, topic in zip(channels, TOPICS, strict=False):
            follow(session, channel_id=channel, topic_name=topic)
        session.execute(text("UPDATE channels SET cron = :cron"), {"cron": DIGEST_CRON})
    return fresh


def digests(engine, slack: ChaosSlack, started: datetime, ended: datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Owed, delivered and duplicated digest messages, from the fake Slack and the runs table."""
    owed_slots = 0
    slot = started.replace(second=0, microsecond=0)
    slot -= timedelta(minutes=slot.minute % 2)  # DIGEST_CRON's latest time at or before start
    while slot <= started:
        slot += DIGEST_EVERY
    while slot <= ended:
        owed_slots += 1
        slot += DIGEST_EVERY
    with session_scope(engine) as session:
        runs = {
            r.id: (r.channel_id, r.scheduled_for, len(r.paper_ids or []), r.status, r.header_ts)
            for r in session.query(DigestRun).filter(DigestRun.scheduled_for > started)
        }
        channels = session.execute(
            text("SELECT count(DISTINCT channel_id) FROM channel_topics")
        ).scalar_one()
    seen: dict[tuple[int, int], int] = {}
    for message in slack.posted():
        meta = (message.get("metadata") or {}).get("event_payload") or {}
        if "run_id" in meta:
            key = (int(meta["run_id"]), int(meta.get("position", 0)))
            seen[key] = seen.get(key, 0) + 1
    delivered = 0
    for run_id, (_, scheduled_for, papers, status, header_ts) in runs.items():
        if scheduled_for > ended:
            continue
        if status == "done" and papers == 0 and header_ts is None:
            delivered += 1  # nothing new for the channel: the app stays quiet, by design
        elif all((run_id, p) in seen for p in range(papers + 1)):
            delivered += 1
    return {
        "digests_owed": owed_slots * channels,
        "digests_delivered": delivered,
        "digest_duplicates": sum(n - 1 for n in seen.values()),
    }


def jobs(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        row = session.execute(
            text(
                "SELECT count(*) FILTER (WHERE state = 'running'),"
                " count(*) FILTER (WHERE state = 'pending' AND run_after < now() - :late),"
                " count(*) FILTER (WHERE state = 'pending' AND run_after >= now() - :late),"
                " count(*) FILTER (WHERE state = 'dead'), count(*) FILTER (WHERE state = 'done')"
                " FROM llm_jobs"
            ),
            {"late": timedelta(seconds=60)},
        ).one()
    return {
        "stranded_jobs": row[0] + row[1],
        "jobs_waiting": row[2],
        "jobs_dead": row[3],
        "jobs_done": row[4],
    }


class Faults:
    """The fault schedule, on its own thread; records when PostgreSQL was down."""

    def __init__(self, args, slack, anthropic, pdf, pg, procs, engine, fresh) -> None:  # type: ignore[no-untyped-def]
        self.args, self.slack, self.anthropic, self.pdf = args, slack, anthropic, pdf
        self.pg, self.procs, self.engine, self.fresh = pg, procs, engine, fresh
        self.db_down: tuple[float, float] | None = None
        self.log: list[str] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def at(self, fraction: float) -> float:
        return self.t0 + fraction * self.args.seconds

    def run(self) -> None:
        self.t0 = time.monotonic()
        plan = [
            (0.20, self.slow_pdf_on),
            (0.45, self.restart_postgres),
            (0.50, self.slow_pdf_off),
            (0.70, self.kill_worker),
        ]
        burst = 0
        next_burst = self.t0 + 5
        next_fresh = self.t0 + 20
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_fresh:
                threading.Thread(target=self.new_papers, daemon=True).start()
                next_fresh = now + FRESH_EVERY_S
            if plan and now >= self.at(plan[0][0]):
                # Each on its own thread: a restart that takes a while delays nothing else.
                threading.Thread(target=plan.pop(0)[1], daemon=True).start()
                continue
            if now >= next_burst:
                self.burst(burst)
                burst += 1
                next_burst = now + self.args.fault_every
            self.stop.wait(0.2)

    def note(self, what: str) -> None:
        self.log.append(f"{time.monotonic() - self.t0:.0f}s {what}")

    def burst(self, n: int) -> None:
        # Alternate the kinds, so each shows up several times in a run.
        if n % 2 == 0:
            self.slack.rate_limit(times=3, retry_after=1)
            self.anthropic.overloaded(times=3)
            self.note("slack 429 x3, anthropic 529 x3")
        else:
            self.slack.server_error(times=3, status=500)
            self.anthropic.malformed(times=2)
            self.note("slack 500 x3, anthropic malformed x2")

    def new_papers(self) -> None:
        now = datetime.now(UTC)
        batch = [replace(r, published=now, updated=now) for r in self.fresh[:FRESH_BATCH]]
        del self.fresh[:FRESH_BATCH]
        try:
            with session_scope(self.engine) as session:
                upsert_papers(session, records=batch)
            self.note(f"{len(batch)} new papers")
        except OperationalError:  # PostgreSQL is down: these papers are simply not announced
            self.note("new papers lost (database down)")

    def slow_pdf_on(self) -> None:
        self.pdf.slow.set()
        self.note("pdf host drips")

    def slow_pdf_off(self) -> None:
        self.pdf.slow.clear()
        self.note("pdf host normal")

    def restart_postgres(self) -> None:
        down = time.monotonic()
        self.pg.stop()
        self.note("postgres stopped")
        self.stop.wait(self.args.db_down)
        for attempt in range(3):  # a start that fails would leave the rest of the run meaningless
            try:
                self.pg.start()
                break
            except Exception as exc:  # noqa: BLE001 - noted in the output, then tried again
                self.note(f"postgres start failed ({type(exc).__name__}), attempt {attempt + 1}")
                time.sleep(2)
        self.db_down = (down, time.monotonic())
        self.note("postgres started")

    def kill_worker(self) -> None:
        self.procs.kill("worker")
        self.note("worker killed (-9)")
        self.stop.wait(5)
        self.procs.start("worker")
        self.note("worker restarted")

    def heal(self) -> None:
        self.stop.set()
        self.slack.heal()
        self.pdf.slow.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the run (180+ real)")
    parser.add_argument("--rate", type=float, default=1.0, help="slash commands per second")
    parser.add_argument("--event-rate", type=float, default=0.5, help="thread events per second")
    parser.add_argument("--channels", type=int, default=4, help="channels getting digests")
    parser.add_argument("--papers", type=int, default=3000)
    parser.add_argument("--db-down", type=float, default=10.0, help="seconds PostgreSQL is down")
    parser.add_argument("--fault-every", type=float, default=15.0, help="seconds between bursts")
    parser.add_argument("--settle", type=float, default=60.0, help="catch-up time after the run")
    parser.add_argument("--keep-logs", action="store_true", help="print the processes' log dir")
    args = parser.parse_args()
    load_before = os.getloadavg()

    tmp = Path(tempfile.mkdtemp(prefix="paperboy-chaos-"))
    pg = EmbeddedPostgres(tmp)
    slack = ChaosSlack(enforce_channel_rate=True).start()
    anthropic = ChaosAnthropic().start()
    arxiv, hf = FakeArxiv().start(), FakeHF().start()
    pdf = DripPdfHost()
    channels = [f"C0CHAOS{i:02d}" for i in range(args.channels)]
    events_channel = "C0CHAOSEV"
    for channel in [*channels, events_channel]:
        slack.add_channel(channel)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=pg.url,
        paperboy_data_dir=tmp,
        slack_api_url=slack.url,
        slack_bot_token=SecretStr("xoxb-chaos"),
        slack_signing_secret=SecretStr(SECRET),
        anthropic_api_key=SecretStr("sk-ant-chaos"),
        anthropic_base_url=anthropic.url,
        arxiv_api_url=arxiv.url,
        hf_api_url=hf.url,
        arxiv_pdf_url=pdf.url,
        http_timeout_seconds=10.0,
        llm_lease_seconds=LEASE_S,
        llm_retry_base_seconds=5.0,
    )
    engine = get_engine(settings)
    fresh = seed(engine, channels, args.papers)
    procs = Processes(settings, tmp / "logs")
    traffic = Traffic(settings, slack, SECRET, events_channel, procs)
    faults = Faults(args, slack, anthropic, pdf, pg, procs, engine, fresh)
    result: dict[str, object] = {}
    try:
        for name in ("serve", "worker", "scheduler"):
            procs.start(name)
        procs.wait_healthy()
        started = datetime.now(UTC)
        fault_thread = threading.Thread(target=faults.run, name="faults", daemon=True)
        fault_thread.start()
        traffic.run(args.seconds, rate=args.rate, event_rate=args.event_rate)
        ended = datetime.now(UTC)
        faults.heal()
        fault_thread.join(60)
        settled = traffic.settle(
            max(args.settle, LEASE_S + 30), busy=lambda: jobs(engine)["stranded_jobs"] > 0
        )
        outcome = traffic.outcome(faults.db_down, is_apology)
        result = {
            **outcome,
            **traffic.unanswered(faults.db_down, faults.t0),
            "settle_s": round(settled),
            **digests(engine, slack, started, ended),
            **jobs(engine),
        }
        result["duplicate_posts"] = int(result.pop("reply_duplicates", 0)) + int(
            result.pop("digest_duplicates", 0)
        )
    finally:
        faults.heal()
        procs.stop_all()
        engine.dispose()
        for fake in (slack, anthropic, arxiv, hf, pdf):
            fake.stop()
        pg.stop()
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
    order = ["commands", "acked_in_3s", "answered", "events", "events_answered", "digests_owed",
             "digests_delivered", "duplicate_posts", "stranded_jobs"]  # fmt: skip
    line = {k: result.get(k) for k in order} | {k: v for k, v in result.items() if k not in order}
    line |= {
        "seconds": args.seconds,
        "db_down_s": args.db_down,
        "faults": faults.log,
        "anthropic_malformed_sent": anthropic.malformed_sent,
        "slack_rate_limited": slack.rate_limited,
        "pdf_downloads_started": pdf.started,
        "pdf_downloads_finished": pdf.finished,
        "process_exits": procs.exits,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.keep_logs:
        line["logs"] = str(tmp / "logs")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
