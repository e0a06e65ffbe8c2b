"""Channel digests: choosing the papers (select), planning a run (plan), posting it exactly once
(post), and running one channel or every due one (run)."""

from app.digest.run import (
    DigestOutcome,
    DigestResult,
    DueDigest,
    due_channels,
    run_digest,
    run_due_digests,
)
from app.digest.select import Candidate, select_papers

__all__ = [
    "Candidate",
    "DigestOutcome",
    "DigestResult",
    "DueDigest",
    "due_channels",
    "run_digest",
    "run_due_digests",
    "select_papers",
]
