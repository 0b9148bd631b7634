"""Credit repair as the full procedure: each case's procedure, its notices, and the outbound records for
the credit-sharing platform.

Revision ID: 0013
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the graded procedure the case follows (core/rules/repair.toml [procedures.<code>]); NULL for cases
    # opened before procedures existed (repair → general, objection → objection)
    op.add_column("repair_cases", sa.Column("procedure", sa.String(40)))
    op.create_table(
        "repair_notices",
        sa.Column("notice_id", sa.String(48), primary_key=True),  # <case_id>-N<event seq>
        sa.Column("case_id", sa.String(32), sa.ForeignKey("repair_cases.case_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),  # the case event (and version) that issued it
        sa.Column("kind", sa.String(40), nullable=False),  # [notices.<kind>]: accept, cure, refuse, ...
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # JSON: the Notice as issued
        sa.Column("text", sa.Text, nullable=False),  # the Chinese text as issued
        sa.Column("html", sa.Text, nullable=False),  # the printable page as issued
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )
    op.create_index("ix_repair_notices_case_id", "repair_notices", ["case_id"])
    op.create_table(
        "credit_share_outbox",
        sa.Column("share_id", sa.String(48), primary_key=True),  # <case_id>-S<event seq>
        sa.Column("schema_version", sa.String(40), nullable=False),
        sa.Column("message", sa.String(40), nullable=False),  # repaired | repair_revoked | record_voided | ...
        sa.Column("case_id", sa.String(32), sa.ForeignKey("repair_cases.case_id"), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("record_kind", sa.String(20), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("corrections", sa.Text),  # JSON {field: corrected value} for record_corrected
        sa.Column("authority", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True)),
        sa.Column("export_file", sa.String(200)),
    )
    op.create_index("ix_credit_share_outbox_exported_at", "credit_share_outbox", ["exported_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_share_outbox_exported_at", "credit_share_outbox")
    op.drop_table("credit_share_outbox")
    op.drop_index("ix_repair_notices_case_id", "repair_notices")
    op.drop_table("repair_notices")
    with op.batch_alter_table("repair_cases") as batch:
        batch.drop_column("procedure")
