"""Checks kept for review, and the audit trail of labels.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("author_url", sa.Text(), nullable=True),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("lang", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("spam_probability", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_checks_site_created", "checks", ["key_id", "created_at"])
    op.create_index("ix_checks_uncertainty", "checks", ["uncertainty"])
    op.create_index("ix_checks_created_at", "checks", ["created_at"])
    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label_id", sa.Integer(), sa.ForeignKey("labels.id"), nullable=False, index=True),
        sa.Column("old_label", sa.String(8), nullable=True),
        sa.Column("new_label", sa.String(8), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("label_events")
    op.drop_index("ix_checks_created_at", table_name="checks")
    op.drop_index("ix_checks_uncertainty", table_name="checks")
    op.drop_index("ix_checks_site_created", table_name="checks")
    op.drop_table("checks")
