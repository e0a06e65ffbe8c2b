"""How long-running processes (`serve`, `scheduler`, `worker`) format their log lines.

LOG_FORMAT=text (the default) gives one readable line per record. LOG_FORMAT=json gives one JSON
object per line for a log collector: `time`, `level`, `logger`, `message`, plus every `extra`
field a record carries, such as `error_id` (app/errors.py `log_unexpected`), and `exc_info`
with the traceback as text.
"""

from __future__ import annotations

import logging
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def stderr_handler(log_format: LogFormat) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    return handler
