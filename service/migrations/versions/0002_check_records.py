"""Check records for feedback by id without Redis.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_records",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_check_records_expires_at", "check_records", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_check_records_expires_at", table_name="check_records")
    op.drop_table("check_records")
