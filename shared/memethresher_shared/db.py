"""Engine and sessions. One cached engine per process; SQLite gets WAL and a busy timeout
so the API and several workers can share the embedded database."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from memethresher_shared.settings import get_settings

# Connections a PostgreSQL engine keeps open; the API sizes its database threads to it.
POOL_SIZE = 5


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A connection dropped by a PostgreSQL restart is replaced, not handed to a task: one that sat
    # idle is pinged on checkout (like pool_pre_ping), one back from use moments ago is not, which
    # saves a round trip per request under load. A drop it misses fails one statement, and that
    # disconnect error invalidates the whole pool, so the next checkout connects afresh.
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=10, pool_recycle=3600)
    event.listen(engine.pool, "checkin", _note_checkin)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


def upsert_insert(bind: Session | Connection, table: Table | type) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for `bind`'s database that offers `on_conflict_do_nothing` / `_do_update`: concurrent
    workers race on the same rows, and check-then-insert would lose that race."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return (postgresql if dialect.name == "postgresql" else sqlite).insert(table)


PING_AFTER_IDLE_S = 1.0


def _note_checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """Ping a connection idle for over PING_AFTER_IDLE_S; a dead one is replaced by the pool."""
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_S:
        return  # brand new, or in use a moment ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if not getattr(dbapi_connection, "autocommit", True):
            dbapi_connection.rollback()  # the ping opened a transaction; end it so the session starts clean
    except Exception as error:
        raise exc.DisconnectionError(f"connection dropped while idle: {error}") from error


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@functools.cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@functools.cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_caches() -> None:
    """Forget the cached settings, engine and sessions (tests and `memethresher up` change the env)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    _session_factory.cache_clear()
    get_settings.cache_clear()
