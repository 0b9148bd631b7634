"""Credit repair: repair cases and objections (one table, optimistic locking by version) and their events.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repair_cases",
        sa.Column("case_id", sa.String(32), primary_key=True),
        sa.Column("case_type", sa.String(12), nullable=False),  # repair | objection
        sa.Column("kind", sa.String(40), nullable=False),  # repair kind, or abnormal_objection
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("record_kind", sa.String(20), nullable=False),  # penalty | abnormal_list | serious_list
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        # "<record_kind>:<record_id>" while the case is open, NULL once closed: one open case per record
        sa.Column("open_key", sa.String(120), unique=True),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("state_since", sa.Date, nullable=False),
        sa.Column("next_step", sa.String(20)),
        sa.Column("due_on", sa.Date),
        sa.Column("milestones", sa.Text, nullable=False),  # JSON {state: date reached}
        sa.Column("documents", sa.Text),  # JSON {document type: reference}
        sa.Column("eligibility", sa.Text),  # JSON: the record's eligibility when the case was opened
        sa.Column("details", sa.Text),  # JSON: objection grounds etc.
        sa.Column("rules_version", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
    )
    op.create_index("ix_repair_cases_uscc", "repair_cases", ["uscc"])
    op.create_index("ix_repair_cases_due_on", "repair_cases", ["due_on"])
    op.create_table(
        "repair_case_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("repair_cases.case_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),  # the case version this event produced
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text),
        sa.UniqueConstraint("case_id", "seq", name="uq_repair_case_events_seq"),
    )


def downgrade() -> None:
    op.drop_table("repair_case_events")
    op.drop_index("ix_repair_cases_due_on", "repair_cases")
    op.drop_index("ix_repair_cases_uscc", "repair_cases")
    op.drop_table("repair_cases")
