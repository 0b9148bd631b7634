"""Monthly reclassification cycles: one record per month with its inputs, versions, outputs, and its steps.

Revision ID: 0005
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cycles",
        sa.Column("cycle_id", sa.String(40), primary_key=True),  # cycle-YYYYMMDD: one cycle per as_of
        sa.Column("as_of", sa.Date, nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),  # running | done | failed
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inputs", sa.Text),
        sa.Column("versions", sa.Text),
        sa.Column("outputs", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("started_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "cycle_steps",
        sa.Column("cycle_id", sa.String(40), sa.ForeignKey("cycles.cycle_id"), primary_key=True),
        sa.Column("step", sa.String(30), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),  # running | done | failed | skipped
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("pins", sa.Text),  # what a resumed step must reuse (e.g. model version, snapshot id)
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("seconds", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("cycle_steps")
    op.drop_table("cycles")
