"""The tier list's order as a covering index: a publication's rows by risk, with every filter column.

``/v1/tiers`` and the console's 分类结果 page a publication's rows by (probability DESC, uscc) under any
filter on tier, town, industry or entity type: walking this one index answers each page without touching
the table (the counts come from per-publication aggregates, publications never change once published).

Revision ID: 0017
Revises: 0002
"""

from alembic import op

revision = "0017"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ["publication_id", "probability", "uscc", "tier", "town_code", "industry_code", "entity_type"]


def upgrade() -> None:
    import sqlalchemy as sa

    cols = [sa.text(c) if c != "probability" else sa.text("probability DESC") for c in COLUMNS]
    op.create_index("ix_published_scores_order", "published_scores", cols)


def downgrade() -> None:
    op.drop_index("ix_published_scores_order", "published_scores")
