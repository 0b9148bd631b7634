"""Two publications compared entity by entity from an index: (publication_id, uscc, tier, probability).

The migration matrix, the jumpers and the monitor's score distribution join this month's rows to last
month's by code and read only the tier and probability. Without this index every matched row is read from
the table, whose rows carry the reasons (about 1 KB each): at 10M entities a join of two publications read
a 17.8 GB SQLite file from disk for minutes; from the index it reads a few hundred MB.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_published_scores_by_code", "published_scores",
                    ["publication_id", "uscc", "tier", "probability"])


def downgrade() -> None:
    op.drop_index("ix_published_scores_by_code", "published_scores")
