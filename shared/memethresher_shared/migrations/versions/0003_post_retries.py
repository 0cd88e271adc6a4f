"""post retries: posts whose images failed for passing reasons are fetched again later

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retries", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_posts_retry_at"), ["retry_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posts_retry_at"))
        batch_op.drop_column("retries")
        batch_op.drop_column("retry_at")
