"""curation decisions undone: each undo of a keep or discard counts toward the next retrain

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 11:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("curation_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undone", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("curation_queue", schema=None) as batch_op:
        batch_op.drop_column("undone")
