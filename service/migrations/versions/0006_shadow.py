"""Shadow mode: verdict agreement counts and disagreeing comments of a candidate scoring live traffic.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_counts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shadow_version", sa.Text(), nullable=False),
        sa.Column("current_version", sa.Text(), nullable=False),
        sa.Column("current_verdict", sa.String(8), nullable=False),
        sa.Column("shadow_verdict", sa.String(8), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shadow_counts_version", "shadow_counts", ["shadow_version"])
    op.create_table(
        "shadow_disagreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shadow_version", sa.Text(), nullable=False),
        sa.Column("current_version", sa.Text(), nullable=False),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("current_verdict", sa.String(8), nullable=False),
        sa.Column("current_p", sa.Float(), nullable=False),
        sa.Column("shadow_verdict", sa.String(8), nullable=False),
        sa.Column("shadow_p", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shadow_disagreements_version", "shadow_disagreements", ["shadow_version", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_shadow_disagreements_version", table_name="shadow_disagreements")
    op.drop_table("shadow_disagreements")
    op.drop_index("ix_shadow_counts_version", table_name="shadow_counts")
    op.drop_table("shadow_counts")
