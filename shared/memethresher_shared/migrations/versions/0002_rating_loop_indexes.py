"""rating loop indexes: pending pairs in asking order, ratings by acquisition pair

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:35:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("acquisition_pairs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_acquisition_pairs_pending_order",
            ["status", sa.literal_column("batch_id DESC"), "position", "id"],
            unique=False,
        )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_acquisition_pair_id"), ["acquisition_pair_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_acquisition_pair_id"))
    with op.batch_alter_table("acquisition_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_acquisition_pairs_pending_order")
