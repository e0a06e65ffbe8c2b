"""Unexpected errors: one helper logs them under an id, and the user's apology carries the id."""

from __future__ import annotations

import logging
import re

import pytest

from app.errors import apology, log_unexpected


def test_an_unexpected_error_is_logged_once_with_its_id_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("paperboy.test")
    try:
        raise RuntimeError("the disk is on fire")
    except RuntimeError:
        with caplog.at_level(logging.ERROR, logger="paperboy.test"):
            error_id = log_unexpected(logger, "job %s failed", "ingest")
    assert re.fullmatch(r"[0-9a-f]{8}", error_id)
    [record] = caplog.records
    assert record.getMessage() == f"job ingest failed, error id {error_id}"
    assert record.error_id == error_id  # type: ignore[attr-defined]  # for structured logs
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_each_failure_gets_its_own_id() -> None:
    logger = logging.getLogger("paperboy.test")
    assert log_unexpected(logger, "a", exc_info=False) != log_unexpected(
        logger, "b", exc_info=False
    )


def test_the_apology_names_the_id_the_log_has() -> None:
    assert apology("1a2b3c4d") == "Sorry, something went wrong on my side (error id 1a2b3c4d)."
