"""encoder switches, blue/green: the active encoder and the pending one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 06:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "encoder_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("encoder", sa.String(length=128), nullable=False),
        sa.Column("previous", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("comparison", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_encoder_switches_model_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encoder_switches")),
    )
    with op.batch_alter_table("encoder_switches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encoder_switches_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("encoder_switches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encoder_switches_status"))
    op.drop_table("encoder_switches")
