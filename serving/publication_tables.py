"""The operational DB's publication tables as SQLAlchemy table clauses (the DDL is in core/opdb/migrations)."""

from __future__ import annotations

import sqlalchemy as sa

PUBLICATIONS = sa.table(
    "publications",
    sa.column("publication_id"), sa.column("as_of", sa.Date), sa.column("model_version"),
    sa.column("snapshot_id"), sa.column("status"), sa.column("entity_count", sa.Integer),
    sa.column("tier_counts"), sa.column("trigger_counts"), sa.column("rules_versions"),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("created_by"),
)
PUBLISHED_SCORES = sa.table(
    "published_scores",
    sa.column("publication_id"), sa.column("uscc"), sa.column("probability", sa.Float), sa.column("tier"),
    sa.column("reasons"), sa.column("entity_type"), sa.column("industry_code"), sa.column("town_code"),
)
UNPUBLISHED = sa.table(
    "unpublished_entities",
    sa.column("publication_id"), sa.column("uscc"), sa.column("status"), sa.column("status_date", sa.Date),
)
DESCRIPTIVE = ("entity_type", "industry_code", "town_code")  # published beside each score, for filters and charts
