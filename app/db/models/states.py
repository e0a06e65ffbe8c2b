"""The states a stored row can be in, one `StrEnum` per status column.

Plain enums with no SQLAlchemy in them, so any layer can import them. The database holds the
same values under a CHECK constraint (app/db/models/base.py `status_check`), so a typo in a
status is an error at the first write rather than a row nothing ever picks up again.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """An LLM job in the queue (`llm_jobs.state`)."""

    PENDING = "pending"  # waiting for its `run_after`
    RUNNING = "running"  # leased by a worker; claimable again once the lease expires
    DONE = "done"
    DEAD = "dead"  # out of attempts, or failed for good; `last_error` says why


# A job in one of these is live: queueing the same job again is a no-op (uq_llm_jobs_live_dedupe).
JOB_LIVE = (JobState.PENDING, JobState.RUNNING)


class IngestStatus(StrEnum):
    """One source's ingest run (`ingest_runs.status`)."""

    RUNNING = "running"  # also what a crashed run stays at
    OK = "ok"
    PARTIAL = "partial"  # some pages stored, then an error
    FAILED = "failed"


class DigestStatus(StrEnum):
    """One channel's digest at one scheduled time (`digest_runs.status`)."""

    PLANNED = "planned"  # papers chosen, nothing posted yet
    POSTING = "posting"  # some messages posted; a later tick resumes it
    DONE = "done"
    FAILED = "failed"  # Slack refused a message itself (e.g. invalid_blocks): not carried over
    # Slack refused the channel or the token (the channel is paused), or transient failures
    # outlasted the retry window: its unposted papers are owed to the channel's next run
    # (app/digest/owed.py).
    UNDELIVERED = "undelivered"


# A digest in one of these is still owed to its channel: resumed, and never planned twice.
DIGEST_UNFINISHED = (DigestStatus.PLANNED, DigestStatus.POSTING)
# A digest in one of these is over: the next digest's papers are new since the latest of them.
DIGEST_SETTLED = (DigestStatus.DONE, DigestStatus.FAILED)


class JobRunStatus(StrEnum):
    """One run of a scheduled job (`job_runs.status`)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    ABANDONED = "abandoned"  # still running hours later: its process died (housekeeping)


class BackfillStatus(StrEnum):
    """One `paperboy backfill` range (`backfill_runs.status`)."""

    RUNNING = "running"  # harvesting now, or its process died: resumable either way
    STOPPED = "stopped"  # interrupted (Ctrl-C, an error): the same command resumes it
    DONE = "done"  # every page stored: the range is never fetched again
