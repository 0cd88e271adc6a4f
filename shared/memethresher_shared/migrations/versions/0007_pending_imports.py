"""imported records waiting for their images

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("sha_a", sa.String(length=64), nullable=False),
        sa.Column("sha_b", sa.String(length=64), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_imports")),
        sa.UniqueConstraint("key", name=op.f("uq_pending_imports_key")),
    )
    with op.batch_alter_table("pending_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_imports_sha_a"), ["sha_a"], unique=False)
        batch_op.create_index(batch_op.f("ix_pending_imports_sha_b"), ["sha_b"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_imports_sha_b"))
        batch_op.drop_index(batch_op.f("ix_pending_imports_sha_a"))
    op.drop_table("pending_imports")
