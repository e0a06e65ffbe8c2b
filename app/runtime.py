"""The composition root: a process builds its dependencies here, once, and passes them down.

`paperboy serve`, `paperboy scheduler`, `paperboy worker` and every CLI command get a `Runtime`
(app/cli/_common.py makes one per process). Library code never looks a dependency up: it takes
the engine, the LLM, the PDF fetcher, the sources or the Slack client as arguments. Each one is
built on first use, so `paperboy --help` starts no database and a CLI command that never posts
never builds a Slack client.

Long-running entry points live here too (`serve`, `run_scheduler`, `run_worker_until`): they
wire the Slack front end (app/slack/server.py), the scheduler (app/scheduler.py) and the worker
(app/worker.py) together, which no lower layer may do.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from sqlalchemy import Engine

from app.config import Settings
from app.db.engine import get_engine
from app.digest.ports import Poster
from app.embeddings import Embedder, build_embedder
from app.llm.client import LLM, build_llm
from app.llm.fulltext import PdfFetcher
from app.scheduler import catch_up_ingest, start_scheduler
from app.slack.app import app_token, check_slack_settings
from app.slack.poster import SlackPoster, make_web_client
from app.slack.server import start_http, tune_for_serving
from app.sources import Source, build_sources, close_sources
from app.sources.semantic_scholar import SemanticScholar
from app.worker import WorkerReport, run_worker

log = logging.getLogger(__name__)

# How long stopping waits for a start-up ingest still running (docker stop allows 10 s in all).
CATCH_UP_STOP_WAIT_S = 3.0
# How often the Socket Mode client pings Slack and checks its connection. slack_sdk's built-in
# client notices a connection cut without a close frame only after five failed checks, and a
# close frame only at the next check: at its default of 10 s that left the app deaf for about
# 60 s (tests/test_socket_mode.py TestReconnect); at 3 s, about 18 s.
SOCKET_MODE_PING_S = 3.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Everything a Paperboy process depends on, each built once on first use."""

    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)

    @cached_property
    def engine(self) -> Engine:
        """The configured PostgreSQL (or the embedded one), schema upgraded on first use."""
        return get_engine(self.settings)

    @cached_property
    def llm(self) -> LLM | None:
        """Claude, or None without ANTHROPIC_API_KEY (then: extractive fallbacks, no calls)."""
        return build_llm(self.settings)

    @cached_property
    def pdfs(self) -> PdfFetcher:
        """The one HTTP client that downloads arXiv PDFs for deep summaries and questions."""
        return PdfFetcher(self.settings)

    @cached_property
    def slack(self) -> WebClient:
        """The Web API client for SLACK_API_URL, with Paperboy's retry handlers."""
        return make_web_client(self.settings)

    @cached_property
    def poster(self) -> Poster:
        """How digests reach Slack: the Web API client behind the digest's Poster protocol."""
        return SlackPoster(self.slack)

    @cached_property
    def sources(self) -> list[Source]:
        """The configured paper sources (app/sources `build_sources`), in ingest order."""
        return build_sources(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        """The text embedding model (EMBEDDING_MODEL; bundled, loads in about 0.2 s)."""
        return build_embedder(self.settings.embedding_model)

    @cached_property
    def s2(self) -> SemanticScholar:
        """The one Semantic Scholar client (a public API: always built, a key is optional);
        shared so the 1 request/s pacing holds across its users."""
        return build_s2(self.settings)

    def close(self) -> None:
        if "s2" in self.__dict__:
            self.s2.close()
        if "pdfs" in self.__dict__:
            self.pdfs.close()
        if "sources" in self.__dict__:
            close_sources(self.sources)


def build_s2(settings: Settings) -> SemanticScholar:
    key = settings.semantic_scholar_api_key
    return SemanticScholar(
        base_url=settings.semantic_scholar_api_url,
        api_key=key.get_secret_value() if key else None,
        min_interval_s=settings.semantic_scholar_interval_seconds,
        deadline_s=settings.semantic_scholar_deadline_seconds,
    )


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM (docker stop) and Ctrl-C set `stop` instead of killing the process mid-request."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def wait_for(stop: threading.Event) -> None:
    """Sleep until `stop` is set. Polls: a signal handler calling stop.set() while this thread sat
    inside Event.wait() (holding the event's lock) could deadlock."""
    while not stop.is_set():
        time.sleep(0.2)


def start_worker_thread(
    rt: Runtime, stop: threading.Event
) -> tuple[threading.Thread, list[WorkerReport]]:
    """The summary worker on its own thread until `stop` is set; its report lands in the list."""
    result: list[WorkerReport] = []

    def work() -> None:
        result.append(run_worker(rt.settings, rt.engine, llm=rt.llm, pdfs=rt.pdfs, stop_event=stop))

    thread = threading.Thread(target=work, name="worker", daemon=True)
    thread.start()
    return thread, result


def start_catch_up_ingest(rt: Runtime) -> threading.Thread:
    """The start-up ingest (app/scheduler.py `catch_up_ingest`) on its own thread: the Slack app
    and /healthz answer meanwhile, and a fresh install has papers within a minute."""
    thread = threading.Thread(
        target=catch_up_ingest,
        args=(rt.settings, rt.engine, rt.sources, rt.embedder),
        name="startup-ingest",
        daemon=True,  # never holds the process up at exit (see close_unless_busy)
    )
    thread.start()
    return thread


def close_unless_busy(rt: Runtime, catch_up: threading.Thread | None) -> None:
    """Close the runtime's clients, unless the start-up ingest is still using them: the process is
    exiting anyway, and closing them under it would only turn its end into a crash report. Its
    `job_runs` row stays `running` until housekeeping marks it abandoned; the next ingest reads
    each source from where its last completed run got."""
    if catch_up is not None:
        catch_up.join(timeout=CATCH_UP_STOP_WAIT_S)
        if catch_up.is_alive():
            log.info("start-up ingest still running at exit: left unfinished")
            return
    rt.close()


def serve(
    rt: Runtime,
    *,
    stop: threading.Event,
    scheduler: bool = True,
    worker: bool = True,
    host: str = "0.0.0.0",  # inside a container the port must be reachable from outside
) -> None:
    """Run the Slack app (HTTP or Socket Mode), the scheduler and a worker until `stop` is set."""
    settings = rt.settings
    check_slack_settings(settings)
    xapp = app_token(settings)
    running = start_http(
        settings,
        rt.engine,
        client=rt.slack,
        llm=rt.llm,
        pdfs=rt.pdfs,
        sources=rt.sources,
        embedder=rt.embedder,
        s2=rt.s2,
        host=host,
        socket_mode=xapp is not None,
    )
    stoppers: list[Callable[[], object]] = [running.stop]
    catch_up: threading.Thread | None = None
    try:
        if xapp is not None:
            handler = SocketModeHandler(running.app, xapp, ping_interval=SOCKET_MODE_PING_S)
            handler.connect()
            stoppers.append(handler.close)
            log.info("connected to Slack in Socket Mode")
        if scheduler:
            sched = start_scheduler(settings, rt.engine, rt.poster, rt.sources, rt.embedder)
            stoppers.append(lambda: sched.shutdown(wait=True))
            catch_up = start_catch_up_ingest(rt)
        if worker:
            thread, _ = start_worker_thread(rt, stop)
            stoppers.append(lambda: thread.join(timeout=30))
        tune_for_serving()
        wait_for(stop)
        log.info("stopping")
    finally:
        stop.set()  # the worker watches the same event
        for stopper in reversed(stoppers):
            try:
                stopper()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("error while stopping")
        close_unless_busy(rt, catch_up)


def run_scheduler(rt: Runtime, *, stop: threading.Event) -> None:
    """Run only the scheduled jobs until `stop` is set (`paperboy scheduler`)."""
    sched = start_scheduler(rt.settings, rt.engine, rt.poster, rt.sources, rt.embedder)
    catch_up = start_catch_up_ingest(rt)
    try:
        wait_for(stop)
    finally:
        sched.shutdown(wait=True)
        close_unless_busy(rt, catch_up)


def run_worker_until(rt: Runtime, *, stop: threading.Event) -> WorkerReport | None:
    """Run the summary worker until `stop` is set (`paperboy worker`); its final report."""
    thread, result = start_worker_thread(rt, stop)
    try:
        while not stop.is_set() and thread.is_alive():
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
        rt.close()
    return result[0] if result else None
