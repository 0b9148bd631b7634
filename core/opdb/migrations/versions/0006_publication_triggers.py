"""Publications record how many entities each direct trigger moved (JSON: trigger code → count).

Revision ID: 0006
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.add_column(sa.Column("trigger_counts", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.drop_column("trigger_counts")
