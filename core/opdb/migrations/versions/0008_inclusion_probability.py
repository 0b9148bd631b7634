"""Inclusion probability and drawing strata of each planned random inspection (triggered ones: NULL).

Revision ID: 0008
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_inspections") as batch:
        batch.add_column(sa.Column("inclusion_probability", sa.Float))  # P(drawn in this plan); NULL = triggered
        batch.add_column(sa.Column("drawn_by", sa.Text))  # ';'-joined strata: floor, required:<item>, tier:<T>


def downgrade() -> None:
    with op.batch_alter_table("plan_inspections") as batch:
        batch.drop_column("drawn_by")
        batch.drop_column("inclusion_probability")
