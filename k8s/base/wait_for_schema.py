"""Wait until the database schema is at the newest migration; exit 1 after the timeout.

Runs in the services' init containers, so no service starts on a schema the migration Job has
not finished. Usage: python wait_for_schema.py [timeout_seconds]"""

from __future__ import annotations

import logging
import sys
import time

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from memethresher_shared.migrate import alembic_config
from memethresher_shared.settings import get_settings

log = logging.getLogger("wait_for_schema")


def at_head(engine: sa.Engine, heads: set[str]) -> bool:
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == heads
    except sa.exc.OperationalError:
        return False


def main(timeout_s: float) -> int:
    url = get_settings().database_url
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout_s
    while not at_head(engine, heads):
        if time.monotonic() > deadline:
            log.error("schema not at %s after %.0fs: has the migration Job run?", sorted(heads), timeout_s)
            return 1
        log.info("waiting for the migration Job")
        time.sleep(3)
    log.info("schema at %s", sorted(heads))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 600.0))
