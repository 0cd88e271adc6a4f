"""taste prompts: sentences the user likes or dislikes, and their text vectors per encoder

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 11:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taste_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("liked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taste_prompts")),
        sa.UniqueConstraint("text", name=op.f("uq_taste_prompts_text")),
    )
    op.create_table(
        "prompt_vectors",
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("encoder", sa.String(length=128), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["taste_prompts.id"],
            name=op.f("fk_prompt_vectors_prompt_id_taste_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prompt_id", "encoder", name=op.f("pk_prompt_vectors")),
    )


def downgrade() -> None:
    op.drop_table("prompt_vectors")
    op.drop_table("taste_prompts")
