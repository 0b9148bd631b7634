"""Published scores and tiers with their history, and manual tier overrides.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("publication_id", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(40), nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # publishing | published
        sa.Column("entity_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tier_counts", sa.Text),
        sa.Column("rules_versions", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )
    op.create_index("ix_publications_as_of", "publications", ["as_of"])
    op.create_table(
        "published_scores",
        sa.Column("publication_id", sa.String(64), sa.ForeignKey("publications.publication_id"),
                  primary_key=True),
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("reasons", sa.Text),
        sa.Column("entity_type", sa.String(30)),
        sa.Column("industry_code", sa.String(8)),
        sa.Column("town_code", sa.String(20)),
    )
    op.create_index("ix_published_scores_uscc", "published_scores", ["uscc"])
    op.create_index("ix_published_scores_tier", "published_scores", ["publication_id", "tier"])
    op.create_table(
        "tier_overrides",
        sa.Column("override_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False, index=True),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("tier_overrides")
    op.drop_index("ix_published_scores_tier", "published_scores")
    op.drop_index("ix_published_scores_uscc", "published_scores")
    op.drop_table("published_scores")
    op.drop_index("ix_publications_as_of", "publications")
    op.drop_table("publications")
