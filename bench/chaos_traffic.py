"""bench/chaos.py's moving parts: the Paperboy processes it runs, and the steady stream of signed
slash commands and thread events it sends (as Slack sends them, redelivering failed events)."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from slack_helpers import command_body, event_body, sign
from sqlalchemy import text

from app.config import Settings
from app.db.engine import get_engine, session_scope
from tests.deps import cli_env

EVENT_RETRIES_S = (1.0, 5.0, 15.0)  # when Slack redelivers an event it thinks failed (compressed)
ACK_S = 3.0
# A request sent this long before PostgreSQL stops may still be in flight when it does, and one
# sent just after it starts may meet it still starting: its apology is fair too.
OUTAGE_MARGIN_S = (5.0, 2.0)
QUERIES = ["language model", "reinforcement learning", "diffusion", "graph neural network",
           "retrieval", "speech recognition", "protein", "robot"]  # fmt: skip


def is_apology(text: str) -> bool:
    """An answer that is not one: an error id, or "try again" (busy, database down)."""
    lowered = text.lower()
    return "something went wrong" in lowered or "try again" in lowered


def during(at: float, db_down: tuple[float, float] | None) -> bool:
    """Was PostgreSQL down at monotonic time `at` (give or take OUTAGE_MARGIN_S)?"""
    if db_down is None:
        return False
    return db_down[0] - OUTAGE_MARGIN_S[0] <= at <= db_down[1] + OUTAGE_MARGIN_S[1]


def _monotonic_of(ts: str) -> float:
    # A Slack ts is wall-clock seconds; compare it with the monotonic outage window.
    return time.monotonic() - (time.time() - float(ts))


def _env(settings: Settings, port: int) -> dict[str, str]:
    return {**cli_env(settings), "PORT": str(port)}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Processes:
    """`paperboy serve | worker | scheduler` as subprocesses, logging to files."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.port = _free_port()
        self.env = _env(settings, self.port)
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.exits: list[str] = []  # processes that ended on their own (a crash)
        self._killed: set[int] = set()  # pids we killed on purpose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", name],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        self._killed.add(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def check(self) -> None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if proc.pid in self._killed:
                continue
            if code is not None and f"{name}:{code}" not in self.exits:
                self.exits.append(f"{name}:{code}")

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if self.exits:
                raise RuntimeError(f"a process exited at start-up: {self.exits} ({self.log_dir})")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"serve not healthy after {timeout}s ({self.log_dir})")

    def stop_all(self) -> None:
        self.check()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@dataclass
class Sent:
    kind: str  # "command" or "event"
    key: str  # response id, or the parent message's ts
    at: float  # time.monotonic() when first sent
    acked_s: float | None = None  # seconds to a 2xx (the last attempt's, for events)
    status: int | None = None
    ack_text: str = ""
    attempts: int = 0


@dataclass
class Traffic:
    settings: Settings
    slack: Any  # tests/fakes/slack_api.FakeSlack
    secret: str
    channel: str  # where the thread events happen
    procs: Processes
    sent: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        with session_scope(get_engine(self.settings)) as session:
            self.ids = list(
                session.execute(
                    text("SELECT arxiv_id FROM papers ORDER BY published DESC LIMIT 200")
                ).scalars()
            )
        self.pool = ThreadPoolExecutor(64, "chaos-send")
        self.client = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=64))
        self._n = itertools.count()

    def run(self, seconds: float, *, rate: float, event_rate: float) -> None:
        """Open loop: a command every 1/rate s and an event every 1/event_rate s, whatever the
        answers do (Slack does not wait for us either)."""
        start = time.monotonic()
        next_command, next_event = start, start + 0.5
        while (now := time.monotonic()) < start + seconds:
            if now >= next_command:
                self.pool.submit(self._command)
                next_command += 1 / rate
            if now >= next_event:
                self.pool.submit(self._event)
                next_event += 1 / event_rate
            self.procs.check()
            time.sleep(max(0.0, min(next_command, next_event) - time.monotonic()))

    def _command(self) -> None:
        n = next(self._n)
        texts = [f"topic {QUERIES[n % len(QUERIES)]}", f"search {QUERIES[(n + 3) % len(QUERIES)]}",
                 f"paper {self.ids[n % len(self.ids)]}"]  # fmt: skip
        rid = f"chaos{n:06d}"
        body = command_body(texts[n % 3], response_url=self.slack.response_url(rid))
        record = Sent("command", rid, time.monotonic())
        with self._lock:
            self.sent.append(record)
        self._post(record, body, "application/x-www-form-urlencoded", timeout=10.0)

    def _event(self) -> None:
        n = next(self._n)
        arxiv_id = self.ids[n % len(self.ids)]
        parent = self.slack.add_message(
            self.channel, f"Worth a read <https://arxiv.org/abs/{arxiv_id}>"
        )
        reply = self.slack.add_message(self.channel, "tl;dr", thread_ts=parent["ts"])
        event = {"type": "message", "channel": self.channel, "user": "UALICE", "text": "tl;dr",
                 "ts": reply["ts"], "thread_ts": parent["ts"]}  # fmt: skip
        event["channel_type"] = "channel"
        body = json.dumps(event_body(event, event_id=f"EvChaos{n:08d}"))
        record = Sent("event", parent["ts"], time.monotonic())
        with self._lock:
            self.sent.append(record)
        for attempt, delay in enumerate((0.0, *EVENT_RETRIES_S)):
            time.sleep(delay)
            headers = {}
            if attempt:
                headers = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"}
            if self._post(record, body, "application/json", timeout=ACK_S, headers=headers):
                return

    def _post(
        self,
        record: Sent,
        body: str,
        content_type: str,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> bool:
        all_headers = {"Content-Type": content_type, **sign(self.secret, body), **(headers or {})}
        started = time.monotonic()
        record.attempts += 1
        try:
            response = self.client.post(
                self.procs.url + "/slack/events", content=body, headers=all_headers, timeout=timeout
            )
        except httpx.HTTPError:
            record.status = None
            return False
        record.status = response.status_code
        record.acked_s = time.monotonic() - started
        record.ack_text = response.text[:500]
        return 200 <= response.status_code < 300 and record.acked_s <= ACK_S

    # --- what came back ----------------------------------------------------------------------

    def _replies(self, record: Sent) -> list[tuple[str, float]]:
        """(text, when it reached Slack) of each reply to the request."""
        if record.kind == "command":
            return [
                (str(b.get("text") or ""), float(b.get("_received", 0.0)))
                for b in self.slack.responses(record.key)
            ]
        return [
            (str(m.get("text") or ""), _monotonic_of(m["ts"]))
            for m in self.slack.posted(self.channel)
            if m.get("thread_ts") == record.key
        ]

    def _answered(self, record: Sent, db_down: tuple[float, float] | None) -> bool:
        """A real answer, or an apology for a request sent, or answered, while PostgreSQL was
        down (a request queued behind slow work may meet the outage later)."""
        return any(
            not is_apology(text) or during(record.at, db_down) or during(at, db_down)
            for text, at in self._replies(record)
        )

    def settle(self, seconds: float, *, busy: Any) -> float:
        """Wait until every request has a reply and `busy()` (live jobs) is false, up to
        `seconds`; return how long that took."""
        self.pool.shutdown(wait=True)
        started = time.monotonic()
        while time.monotonic() < started + seconds:
            if all(self._replies(r) for r in self.sent) and not busy():
                break
            time.sleep(1.0)
        return time.monotonic() - started

    def unanswered(self, db_down: tuple[float, float] | None, t0: float) -> dict[str, list[int]]:
        """When (seconds into the run) each unanswered command and event was sent."""
        out: dict[str, list[int]] = {"command": [], "event": []}
        for record in self.sent:
            if not self._answered(record, db_down):
                out[record.kind].append(round(record.at - t0))
        return {f"unanswered_{kind}s_sent_at_s": times for kind, times in out.items()}

    def outcome(
        self, db_down: tuple[float, float] | None, apology: Any = is_apology
    ) -> dict[str, Any]:
        commands = [r for r in self.sent if r.kind == "command"]
        events = [r for r in self.sent if r.kind == "event"]
        dupes = 0
        apologies = 0
        for record in self.sent:
            texts = [text for text, _ in self._replies(record)]
            dupes += max(0, sum(not apology(t) for t in texts) - 1)
            apologies += sum(apology(t) for t in texts)
        acked = [r for r in commands if r.status == 200 and (r.acked_s or 99) <= ACK_S]
        return {
            "commands": len(commands),
            "acked_in_3s": len(acked),
            "answered": sum(self._answered(r, db_down) for r in commands),
            "events": len(events),
            "events_answered": sum(self._answered(r, db_down) for r in events),
            "reply_duplicates": dupes,
            "apologies": apologies,
            "event_redeliveries": sum(r.attempts - 1 for r in events),
            "commands_during_db_outage": sum(during(r.at, db_down) for r in commands),
        }
