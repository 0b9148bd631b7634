"""Per-key request rate limits, and the status of entities a publication leaves out (closed, revoked).

Revision ID: 0010
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # requests per second this key may send (token bucket, burst of one second); NULL: the service default
    op.add_column("api_keys", sa.Column("rate_limit", sa.Float, nullable=True))
    op.create_table(
        "unpublished_entities",
        sa.Column("publication_id", sa.String(64), sa.ForeignKey("publications.publication_id"), primary_key=True),
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),  # deregistered | revoked | ...
        sa.Column("status_date", sa.Date, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("unpublished_entities")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_limit")
