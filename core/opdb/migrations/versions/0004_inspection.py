"""Inspection plans, their inspections with results, and inspector assignments.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_plans",
        sa.Column("plan_id", sa.String(100), primary_key=True),
        sa.Column("period", sa.String(40), nullable=False, unique=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("publication_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("target_registry_version", sa.String(64), nullable=False),
        sa.Column("inspector_registry_version", sa.String(64), nullable=False),
        sa.Column("rules_versions", sa.Text),
        sa.Column("summary", sa.Text),
        sa.Column("inspection_count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # drawn
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "plan_inspections",
        sa.Column("inspection_id", sa.String(120), primary_key=True),
        sa.Column("plan_id", sa.String(100), sa.ForeignKey("inspection_plans.plan_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("town_code", sa.String(20)),
        sa.Column("entity_type", sa.String(30)),
        sa.Column("kind", sa.String(20), nullable=False),  # random | complaint | opinion_alert | case_lead
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("trigger_refs", sa.Text),
        sa.Column("inspectors", sa.Text, nullable=False),
        sa.Column("unmet_specialties", sa.Text),
        sa.Column("result", sa.String(30)),
        sa.Column("checked_on", sa.Date),
        sa.Column("result_due", sa.Date),
        sa.Column("published_on", sa.Date),
        sa.Column("result_recorded_at", sa.DateTime(timezone=True)),
        sa.Column("result_recorded_by", sa.String(120)),
    )
    op.create_index("ix_plan_inspections_plan", "plan_inspections", ["plan_id", "seq"])
    op.create_index("ix_plan_inspections_uscc", "plan_inspections", ["uscc"])
    op.create_index("ix_plan_inspections_due", "plan_inspections", ["result_due"])
    op.create_table(
        "inspection_assignments",
        sa.Column("inspection_id", sa.String(120), sa.ForeignKey("plan_inspections.inspection_id"),
                  primary_key=True),
        sa.Column("inspector_id", sa.String(40), primary_key=True),
    )
    op.create_index("ix_inspection_assignments_inspector", "inspection_assignments", ["inspector_id"])


def downgrade() -> None:
    op.drop_index("ix_inspection_assignments_inspector", "inspection_assignments")
    op.drop_table("inspection_assignments")
    op.drop_index("ix_plan_inspections_due", "plan_inspections")
    op.drop_index("ix_plan_inspections_uscc", "plan_inspections")
    op.drop_index("ix_plan_inspections_plan", "plan_inspections")
    op.drop_table("plan_inspections")
    op.drop_table("inspection_plans")
