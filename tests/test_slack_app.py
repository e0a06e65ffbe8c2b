"""The Slack app over real HTTP: signature checks, /healthz, bot filtering, error ids."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from slack_helpers import SECRET, app_settings, post_event, post_signed, sign
from sqlalchemy import create_engine

from app.db import jobruns
from app.db.engine import session_scope
from app.slack.app import SlackNotConfigured, check_slack_settings
from app.slack.server import start_http
from tests.deps import app_deps

URL_VERIFICATION = {
    "token": "x",
    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    "type": "url_verification",
}


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload)


class TestSignatures:
    def test_signed_url_verification_gets_its_challenge_back(self, slack_app_server):
        response = post_signed(
            slack_app_server.url, SECRET, _json(URL_VERIFICATION), content_type="application/json"
        )
        assert response.status_code == 200
        assert response.json() == {"challenge": URL_VERIFICATION["challenge"]}

    def test_signed_event_is_acknowledged(self, slack_app_server):
        event = {"type": "reaction_added", "user": "UALICE", "reaction": "eyes",
                 "item": {"type": "message", "channel": "C0PAPERS01", "ts": "1.000001"},
                 "event_ts": "2.000001"}  # fmt: skip
        assert slack_app_server.event(event).status_code == 200

    def test_unsigned_request_is_rejected(self, slack_app_server):
        response = post_signed(
            slack_app_server.url, None, _json(URL_VERIFICATION), content_type="application/json"
        )
        assert response.status_code == 401

    def test_signature_made_with_another_secret_is_rejected(self, slack_app_server):
        response = post_signed(
            slack_app_server.url, "not-the-secret", _json(URL_VERIFICATION),
            content_type="application/json",
        )  # fmt: skip
        assert response.status_code == 401

    def test_body_changed_after_signing_is_rejected(self, slack_app_server):
        headers = sign(SECRET, _json(URL_VERIFICATION))
        tampered = _json({**URL_VERIFICATION, "challenge": "evil"})
        response = httpx.post(
            slack_app_server.events_url,
            content=tampered,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 401

    @pytest.mark.parametrize("age", [301, 3600, -400])
    def test_stale_or_future_timestamp_is_rejected(self, slack_app_server, age):
        response = post_signed(
            slack_app_server.url, SECRET, _json(URL_VERIFICATION),
            content_type="application/json", ts=int(time.time()) - age,
        )  # fmt: skip
        assert response.status_code == 401

    def test_recent_timestamp_within_five_minutes_is_accepted(self, slack_app_server):
        response = post_signed(
            slack_app_server.url, SECRET, _json(URL_VERIFICATION),
            content_type="application/json", ts=int(time.time()) - 240,
        )  # fmt: skip
        assert response.status_code == 200

    def test_other_paths_are_not_found(self, slack_app_server):
        assert httpx.get(slack_app_server.url + "/slack/events").status_code == 404
        assert httpx.post(slack_app_server.url + "/admin", content=b"x").status_code == 404


class TestHealthz:
    def test_reports_database_ok_and_no_jobs_yet(self, slack_app_server):
        response = httpx.get(slack_app_server.url + "/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"] == {"ok": True}
        assert body["mode"] == "http"
        assert body["jobs"] == {}

    def test_reports_the_last_run_of_each_job(self, slack_app_server, engine):
        early = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        late = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
        with session_scope(engine) as s:
            for slot in (early, late):
                run_id = jobruns.claim_run(s, job_id="digest", scheduled_for=slot)
                assert run_id is not None
                jobruns.finish_run(s, run_id=run_id, status="ok")
            run_id = jobruns.claim_run(s, job_id="ingest", scheduled_for=early)
            assert run_id is not None
            jobruns.finish_run(s, run_id=run_id, status="failed", error="arXiv answered 503")

        jobs = httpx.get(slack_app_server.url + "/healthz").json()["jobs"]

        assert set(jobs) == {"digest", "ingest"}
        assert jobs["digest"]["scheduled_for"] == late.isoformat()
        assert jobs["digest"]["status"] == "ok"
        assert jobs["ingest"]["status"] == "failed"
        assert jobs["ingest"]["error"] == "arXiv answered 503"

    def test_database_down_answers_503(self, settings, slack_fake):
        dead = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:9/nope", connect_args={"connect_timeout": 2}
        )
        cfg = app_settings(settings, slack_fake)
        running = start_http(cfg, dead, **app_deps(cfg), port=0)
        try:
            response = httpx.get(running.url + "/healthz", timeout=10)
        finally:
            running.stop()
            dead.dispose()
        assert response.status_code == 503
        assert response.json()["database"]["ok"] is False
        assert "127.0.0.1:9" not in response.text  # no connection details leak out


class TestListenerPlumbing:
    def test_messages_from_other_bots_never_reach_listeners(self, slack_app_server):
        seen: list[dict[str, Any]] = []

        def record(body: dict[str, Any], next: Any) -> Any:
            seen.append(body.get("event") or {})
            return next()

        slack_app_server.app.use(record)
        base = {"type": "message", "channel": "C0PAPERS01", "channel_type": "channel",
                "ts": "1700000000.000200"}  # fmt: skip

        bot = slack_app_server.event(
            {**base, "text": "summarize this", "bot_id": "BOTHER", "subtype": "bot_message"}
        )
        own = slack_app_server.event(
            {**base, "text": "digest", "user": "UPAPERBOY", "bot_id": "BPAPERBOY"}
        )
        human = slack_app_server.event({**base, "text": "hello", "user": "UALICE"})

        assert [r.status_code for r in (bot, own, human)] == [200, 200, 200]
        assert [e.get("text") for e in seen] == ["hello"]

    def test_failing_command_tells_the_user_an_error_id_that_is_in_the_log(
        self, slack_app_server, caplog
    ):
        def boom(ack: Any) -> None:
            raise RuntimeError("database exploded")

        slack_app_server.app.command("/boom")(boom)
        with caplog.at_level(logging.ERROR, logger="app.slack"):
            sent = slack_app_server.command("", command="/boom")
            deadline = time.time() + 5
            while not sent.replies() and time.time() < deadline:
                time.sleep(0.05)

        reply = sent.replies()[0]
        assert "database exploded" not in reply["text"]
        error_id = re.search(r"error id ([0-9a-f]{8})", reply["text"]).group(1)  # type: ignore[union-attr]
        assert any(error_id in record.getMessage() for record in caplog.records)

    def test_background_work_does_not_hold_up_the_ack(self, slack_app_server):
        services = slack_app_server.services

        def slow_then_answer(respond: Any) -> None:
            time.sleep(1.5)
            respond(text="done")

        def slow(ack: Any, respond: Any) -> None:
            ack()
            services.background(slow_then_answer, respond)

        slack_app_server.app.command("/slow")(slow)
        started = time.monotonic()
        sent = slack_app_server.command("", command="/slow")
        acked_after = time.monotonic() - started

        assert sent.status_code == 200
        assert acked_after < 1.0
        slack_app_server.wait_idle()
        assert [r["text"] for r in sent.replies()] == ["done"]

    def test_failed_background_work_reports_its_error_id(self, slack_app_server, caplog):
        reported: list[str] = []

        def broken() -> None:
            raise ValueError("bad paper")

        with caplog.at_level(logging.ERROR, logger="app.slack"):
            slack_app_server.services.background(broken, on_error=reported.append)
            slack_app_server.wait_idle()

        assert len(reported) == 1
        assert any(reported[0] in record.getMessage() for record in caplog.records)


class TestConfiguration:
    def test_http_mode_without_signing_secret_is_one_clear_error(self, settings, slack_fake):
        cfg = app_settings(settings, slack_fake, slack_signing_secret=None)
        with pytest.raises(SlackNotConfigured, match="SLACK_SIGNING_SECRET"):
            check_slack_settings(cfg)

    def test_socket_mode_needs_no_signing_secret(self, settings, slack_fake):
        from pydantic import SecretStr

        cfg = app_settings(
            settings, slack_fake, slack_signing_secret=None, slack_app_token=SecretStr("xapp-1")
        )
        check_slack_settings(cfg)

    def test_missing_bot_token_is_one_clear_error(self, settings, slack_fake):
        cfg = app_settings(settings, slack_fake, slack_bot_token=None)
        with pytest.raises(SlackNotConfigured, match="SLACK_BOT_TOKEN"):
            check_slack_settings(cfg)

    def test_serve_without_tokens_exits_1_with_one_line(self, settings):
        import subprocess
        import sys

        from conftest import cli_env

        env = cli_env(settings)
        env.pop("SLACK_BOT_TOKEN", None)
        result = subprocess.run(
            [sys.executable, "-c", "from app.cli import main; main()", "serve"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1
        assert "SLACK_BOT_TOKEN is not set" in result.stderr
        assert "Traceback" not in result.stderr

    def test_socket_mode_serves_only_healthz(self, settings, slack_fake, engine):
        cfg = app_settings(settings, slack_fake)
        running = start_http(cfg, engine, **app_deps(cfg), port=0, socket_mode=True)
        try:
            health = httpx.get(running.url + "/healthz")
            events = post_event(running.url, SECRET, {"type": "app_mention", "text": "hi"})
        finally:
            running.stop()
        assert health.status_code == 200
        assert health.json()["mode"] == "socket"
        assert events.status_code == 404

    def test_token_slack_rejects_is_one_clear_error(self, settings, engine):
        from fakes.slack_api import FakeSlack

        with (
            FakeSlack(valid_tokens={"xoxb-the-real-one"}) as fake,
            pytest.raises(SlackNotConfigured, match=r"rejected SLACK_BOT_TOKEN \(invalid_auth\)"),
        ):
            start_http(app_settings(settings, fake), engine, **app_deps(settings), port=0)

    def test_port_already_taken_is_one_clear_error(self, slack_app_server, engine):
        from app.errors import PaperboyError

        with pytest.raises(PaperboyError, match=f"127.0.0.1:{slack_app_server.running.port}"):
            start_http(
                slack_app_server.settings,
                engine,
                **app_deps(slack_app_server.settings),
                port=slack_app_server.running.port,
            )


class TestServeProcess:
    def test_serve_answers_signed_requests_and_healthz_then_stops_on_sigterm(
        self, settings, slack_fake
    ):
        import signal
        import socket
        import subprocess
        import sys
        from pathlib import Path

        from conftest import cli_env

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = cli_env(app_settings(settings, slack_fake, port=port))
        paperboy = str(Path(sys.executable).parent / "paperboy")
        proc = subprocess.Popen(
            [paperboy, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            health = None
            while time.time() < deadline and proc.poll() is None:
                try:
                    health = httpx.get(base + "/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert health is not None, (
                proc.stderr.read() if proc.poll() is not None else "no answer"
            )
            assert health.status_code == 200
            assert set(health.json()["jobs"]) <= {"ingest", "digest", "index", "housekeeping"}
            signed = post_signed(
                base, SECRET, _json(URL_VERIFICATION), content_type="application/json"
            )
            unsigned = post_signed(
                base, None, _json(URL_VERIFICATION), content_type="application/json"
            )
            assert (signed.status_code, unsigned.status_code) == (200, 401)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, stderr = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
