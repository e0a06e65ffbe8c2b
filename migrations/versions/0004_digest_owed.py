"""digests are never lost: owed runs, retry backoff, paused channels

Revision ID: 0004_digest_owed
Revises: 0003_status_checks
Create Date: 2026-12-01 18:00:00

- digest_runs.status gains 'undelivered' (its unposted papers are owed to the channel's next
  run); attempts and retry_at pace transient retries.
- channels gain set_up_by and the pause (paused_at, pause_code, pause_token).
- Runs that failed before this release because Slack refused the channel or the token become
  'undelivered', so their papers reach the channel with its next digest instead of being lost.

The values are written out here, not imported from the models: a migration is history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_digest_owed'
down_revision: str | None = '0003_status_checks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ('planned', 'posting', 'done', 'failed')
NEW = (*OLD, 'undelivered')
# Slack's answers that pause a channel (app/digest/pause.py PAUSE_CODES at this revision).
PAUSING = (
    'invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive',
    'channel_not_found', 'not_in_channel', 'is_archived', 'missing_scope',
)  # fmt: skip


def _status_check(values: Sequence[str]) -> None:
    op.drop_constraint(op.f('ck_digest_runs_status'), 'digest_runs', type_='check')
    allowed = ', '.join(f"'{value}'" for value in values)
    op.create_check_constraint(op.f('ck_digest_runs_status'), 'digest_runs', f'status IN ({allowed})')


def upgrade() -> None:
    _status_check(NEW)
    op.add_column(
        'digest_runs', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False)
    )
    op.add_column('digest_runs', sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('channels', sa.Column('set_up_by', sa.String(length=32), nullable=True))
    op.add_column('channels', sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('channels', sa.Column('pause_code', sa.String(length=64), nullable=True))
    op.add_column('channels', sa.Column('pause_token', sa.String(length=64), nullable=True))
    codes = ', '.join(f"'slack: {code}'" for code in PAUSING)
    op.execute(
        f"UPDATE digest_runs SET status = 'undelivered' WHERE status = 'failed' AND error IN ({codes})"
    )


def downgrade() -> None:
    op.execute("UPDATE digest_runs SET status = 'failed' WHERE status = 'undelivered'")
    _status_check(OLD)
    op.drop_column('channels', 'pause_token')
    op.drop_column('channels', 'pause_code')
    op.drop_column('channels', 'paused_at')
    op.drop_column('channels', 'set_up_by')
    op.drop_column('digest_runs', 'retry_at')
    op.drop_column('digest_runs', 'attempts')
