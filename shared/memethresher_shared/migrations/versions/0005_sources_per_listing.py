"""one source per listing (kind, target, sort, time window), and how each post's images were taken

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:40:00.000000
"""

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SOURCES = sa.table(
    "sources",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("target", sa.String),
    sa.column("sort", sa.String),
    sa.column("time_window", sa.String),
    sa.column("options", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sort", sa.String(length=16), server_default="", nullable=False))
        batch_op.add_column(sa.Column("time_window", sa.String(length=16), server_default="", nullable=False))
        batch_op.drop_constraint("uq_sources_kind", type_="unique")
        batch_op.create_unique_constraint("uq_sources_listing", ["kind", "target", "sort", "time_window"])
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_as", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    # Sort and time window were options; Reddit sources without a sort were crawled as "new".
    for row in bind.execute(sa.select(SOURCES.c.id, SOURCES.c.kind, SOURCES.c.options)).all():
        options = dict(row.options or {})
        sort = str(options.pop("sort", "new" if row.kind == "reddit" else ""))
        time_window = str(options.pop("time", "day" if sort == "top" else ""))
        update = SOURCES.update().where(SOURCES.c.id == row.id)
        bind.execute(update.values(sort=sort, time_window=time_window, options=options))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(SOURCES)).all()
    twins = [key for key, count in Counter((r.kind, r.target) for r in rows).items() if count > 1]
    if twins:
        # The old schema allows one source per target; refuse rather than drop a source and its posts.
        raise RuntimeError(f"cannot downgrade: these targets have sources with several sorts: {twins}")
    for row in rows:
        options = dict(row.options or {})
        if row.sort:
            options["sort"] = row.sort
        if row.time_window:
            options["time"] = row.time_window
        bind.execute(SOURCES.update().where(SOURCES.c.id == row.id).values(options=options))
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("taken_as")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sources_listing", type_="unique")
        batch_op.create_unique_constraint("uq_sources_kind", ["kind", "target"])
        batch_op.drop_column("time_window")
        batch_op.drop_column("sort")
