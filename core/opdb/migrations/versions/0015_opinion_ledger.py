"""The public-opinion ledger (舆情台账): one entry per negative item with its 48-clock-hour deadline, and the
entry's state changes.

Revision ID: 0015
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opinion_ledger",
        sa.Column("entry_id", sa.String(80), primary_key=True),  # YQTZ-<opinion_id>
        sa.Column("opinion_id", sa.String(64), nullable=False, unique=True),  # one entry per item (idempotent open)
        sa.Column("uscc", sa.String(18)),  # the entity the item is about (worst-tier target); NULL if unmatched
        sa.Column("title", sa.String(400), nullable=False),
        sa.Column("source", sa.String(20)),
        sa.Column("reach", sa.BigInteger),
        sa.Column("tier", sa.String(4)),  # the entity's published tier when opened
        sa.Column("opened_because", sa.String(80), nullable=False),  # reach,tier,classifier (comma-separated)
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),  # UTC
        sa.Column("time_basis", sa.String(20), nullable=False),  # published_at | published_date
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),  # UTC: published_at + 48 clock hours
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("verification", sa.String(20)),  # verified | unfounded, once decided
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("responded_at", sa.DateTime(timezone=True)),  # when the clock stopped
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rules_version", sa.String(40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
    )
    op.create_index("ix_opinion_ledger_state_due", "opinion_ledger", ["state", "due_at"])
    op.create_table(
        "opinion_ledger_events",
        sa.Column("entry_id", sa.String(80), sa.ForeignKey("opinion_ledger.entry_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("opinion_ledger_events")
    op.drop_index("ix_opinion_ledger_state_due", table_name="opinion_ledger")
    op.drop_table("opinion_ledger")
