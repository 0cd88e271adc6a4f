"""ratings changed or undone, counted toward the next retrain

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rating_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("choice_before", sa.String(length=4), nullable=False),
        sa.Column("choice_after", sa.String(length=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_edits")),
    )


def downgrade() -> None:
    op.drop_table("rating_edits")
