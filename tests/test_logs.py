"""LOG_FORMAT=json: one JSON object per line, with the error id as a field."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.errors import log_unexpected
from app.logs import stderr_handler


def log_lines(log_format: str, emit: object) -> list[str]:
    """What a handler made for LOG_FORMAT writes while `emit(logger)` runs."""
    stream = io.StringIO()
    handler = stderr_handler(log_format)  # type: ignore[arg-type]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logger = logging.getLogger(f"test.logs.{log_format}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def crash(logger: logging.Logger) -> None:
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError:
        log_unexpected(logger, "job %s failed", "ingest")


class TestJsonLines:
    def test_an_unexpected_error_carries_its_error_id_as_a_field(self) -> None:
        [line] = log_lines("json", crash)  # the traceback stays inside the one line
        record = json.loads(line)
        assert record["level"] == "ERROR"
        assert record["logger"] == "test.logs.json"
        assert record["message"] == f"job ingest failed, error id {record['error_id']}"
        assert len(record["error_id"]) == 8
        assert "RuntimeError: disk on fire" in record["exc_info"]
        assert record["time"]

    def test_text_stays_the_default(self) -> None:
        assert Settings(_env_file=None).log_format == "text"  # type: ignore[call-arg]
        [first, *traceback] = log_lines("text", crash)
        assert " ERROR test.logs.text: job ingest failed, error id " in first
        assert traceback[-1] == "RuntimeError: disk on fire"

    def test_an_unknown_format_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="log_format"):
            Settings(_env_file=None, log_format="xml")  # type: ignore[call-arg]


def test_a_running_scheduler_logs_only_json_lines(settings: Settings) -> None:
    from conftest import cli_env

    env = cli_env(settings) | {
        "LOG_FORMAT": "json",
        "ARXIV_NUM_RETRIES": "0",
        "HF_NUM_RETRIES": "0",
    }
    paperboy = str(Path(sys.executable).parent / "paperboy")
    proc = subprocess.Popen(
        [paperboy, "scheduler"], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        # Started, and the start-up ingest has given up on the unreachable sources.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("job ingest" in line for line in lines):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    assert proc.returncode == 0, "".join(lines)
    records = [json.loads(line) for line in lines]  # every line is JSON
    messages = [r["message"] for r in records]
    assert any(m.startswith("scheduler started") for m in messages), messages
    failed = [r for r in records if r["message"].startswith("job ingest")]
    assert failed and failed[0]["level"] == "WARNING", messages
    assert {"time", "level", "logger", "message"} <= set(records[0])
