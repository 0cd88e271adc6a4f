"""pinned model versions, and memes that are already in the library folder

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("memes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_library", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f("ix_memes_in_library"), ["in_library"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("memes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memes_in_library"))
        batch_op.drop_column("in_library")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("pinned")
