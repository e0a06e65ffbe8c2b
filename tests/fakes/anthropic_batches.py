"""Message Batches for the fake Anthropic API (mixed into AnthropicFake).

`POST /v1/messages/batches` answers every request at once with the default responder (or the
reply text scripted in `batch_texts[custom_id]`, or the outcome scripted in
`batch_outcomes[custom_id]`: "errored", "expired", "canceled"); the first
`batch_polls` retrieves say `in_progress`, then the batch has ended and its results are served
as JSONL, in reverse order (any order, as the real API says). `batch_fate` overrides a new
batch's whole life: "missing" (retrieve answers 404 not_found_error, as for an unknown id),
"expired" (ended with every request expired, as after 24 hours), "canceled" (the first
retrieve says canceling with cancel_initiated_at set, then ended with every request canceled).
The next `batch_poll_errors` retrieves answer 500 api_error.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from .anthropic_errors import ApiError, error_body
from .anthropic_responder import default_reply

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class BatchesMixin:
    batch_outcomes: dict[str, str]
    batch_texts: dict[str, str]
    batch_fate: str | None
    batch_poll_errors: int
    batch_polls: int
    url: str
    _batches: dict[str, dict[str, Any]]
    _lock: threading.Lock
    _ids: Any

    def validate(self, body: Any) -> dict[str, Any]:
        raise NotImplementedError

    def message(
        self, body: dict[str, Any], text: str, stop_reason: str = "end_turn"
    ) -> dict[str, Any]:
        raise NotImplementedError

    # --- batches -----------------------------------------------------------------------------

    def _create_batch(self, body: Any) -> dict[str, Any]:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not requests:
            raise ApiError(400, "requests: at least one request is required")
        ids = [r.get("custom_id", "") for r in requests]
        if len(set(ids)) != len(ids) or not all(_CUSTOM_ID.match(i) for i in ids):
            raise ApiError(400, "custom_id must be unique and match ^[a-zA-Z0-9_-]{1,64}$")
        batch_id = f"msgbatch_{next(self._ids):04d}{uuid.uuid4().hex[:12]}"
        results = []
        fate = self.batch_fate
        for item in requests:
            outcome = self.batch_outcomes.get(item["custom_id"], "succeeded")
            if fate in ("expired", "canceled"):
                outcome = fate
            if outcome == "succeeded":
                params = self.validate(item["params"])
                text = self.batch_texts.get(item["custom_id"]) or default_reply(params)
                result = {"type": "succeeded", "message": self.message(params, text)}
            elif outcome == "errored":
                result = {
                    "type": "errored",
                    "error": error_body("api_error", "Internal server error"),
                }
            else:
                result = {"type": outcome}
            results.append({"custom_id": item["custom_id"], "result": result})
        now = datetime.now(UTC)
        batch = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": len(results),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },  # fmt: skip
            "created_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=24)).isoformat(),
            "ended_at": None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
        }
        with self._lock:
            self._batches[batch_id] = {
                "batch": batch, "results": results, "polls": 0, "fate": fate,
            }  # fmt: skip
        return batch

    def _retrieve(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            entry = self._batches.get(batch_id)
            if self.batch_poll_errors > 0:
                self.batch_poll_errors -= 1
                raise ApiError(500, "Internal server error")
            if entry is None or entry["fate"] == "missing":
                raise ApiError(404, f"batch {batch_id} not found")
            entry["polls"] += 1
            batch = entry["batch"]
            if entry["fate"] == "canceled" and batch["cancel_initiated_at"] is None:
                batch["processing_status"] = "canceling"
                batch["cancel_initiated_at"] = datetime.now(UTC).isoformat()
                return batch
            done = entry["polls"] > self.batch_polls or entry["fate"] is not None
            if done and batch["processing_status"] != "ended":
                counts = Counter(r["result"]["type"] for r in entry["results"])
                kinds = ("succeeded", "errored", "canceled", "expired")
                batch["request_counts"] = {k: counts.get(k, 0) for k in kinds}
                batch["request_counts"]["processing"] = 0
                batch["processing_status"] = "ended"
                batch["ended_at"] = datetime.now(UTC).isoformat()
                batch["results_url"] = f"{self.url}/v1/messages/batches/{batch_id}/results"
            return batch

    def _results(self, batch_id: str) -> bytes:
        with self._lock:
            entry = self._batches.get(batch_id)
        if entry is None or entry["batch"]["processing_status"] != "ended":
            raise ApiError(404, "results are not available yet")
        lines = reversed(entry["results"])  # any order, as the real API says
        return b"".join(json.dumps(line).encode() + b"\n" for line in lines)
