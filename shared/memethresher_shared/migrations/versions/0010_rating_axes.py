"""rating axes end to end: scores, acquisition batches and curation items carry their axis; pending
pairs are asked by position first, so the axes' batches take turns

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _axis_column() -> sa.Column[str]:
    # Every row before this migration was about the one axis there was.
    return sa.Column("axis", sa.String(length=32), server_default="overall", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.add_column(_axis_column())
        batch_op.drop_index("ix_scores_version_mean")
        batch_op.drop_constraint("pk_scores", type_="primary")
        batch_op.create_primary_key("pk_scores", ["meme_id", "model_version_id", "axis"])
        batch_op.create_index("ix_scores_version_axis_mean", ["model_version_id", "axis", "mean"], unique=False)
    with op.batch_alter_table("acquisition_batches", schema=None) as batch_op:
        batch_op.add_column(_axis_column())
    _pending_order(["status", "position", sa.literal_column("batch_id DESC"), "id"])
    with op.batch_alter_table("curation_queue", schema=None) as batch_op:
        batch_op.add_column(_axis_column())
        batch_op.create_index(batch_op.f("ix_curation_queue_axis"), ["axis"], unique=False)


def _pending_order(columns: list[str | sa.ColumnElement[str]]) -> None:
    with op.batch_alter_table("acquisition_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_acquisition_pairs_pending_order")
        batch_op.create_index("ix_acquisition_pairs_pending_order", columns, unique=False)


def downgrade() -> None:
    """Keeps only the overall axis' scores: the other axes have no place in the old key."""
    with op.batch_alter_table("curation_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_curation_queue_axis"))
        batch_op.drop_column("axis")
    _pending_order(["status", sa.literal_column("batch_id DESC"), "position", "id"])
    with op.batch_alter_table("acquisition_batches", schema=None) as batch_op:
        batch_op.drop_column("axis")
    op.execute("DELETE FROM scores WHERE axis <> 'overall'")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index("ix_scores_version_axis_mean")
        batch_op.drop_constraint("pk_scores", type_="primary")
        batch_op.create_primary_key("pk_scores", ["meme_id", "model_version_id"])
        batch_op.drop_column("axis")
        batch_op.create_index("ix_scores_version_mean", ["model_version_id", "mean"], unique=False)
