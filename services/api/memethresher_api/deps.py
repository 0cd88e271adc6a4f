"""Request dependencies: a database session per request, the settings, and refusing a request."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, NoReturn, TypeVar

from fastapi import Depends, Path
from memethresher_shared.db import POOL_SIZE, get_engine, session_scope
from sqlalchemy.orm import Session

from memethresher_api.errors import BY_STATUS, ApiError, NotFound
from memethresher_api.settings import ApiSettings, get_api_settings

T = TypeVar("T")


def get_db() -> Iterator[Session]:
    with session_scope() as session:
        yield session


async def api_settings() -> ApiSettings:
    """Async so FastAPI calls it on the event loop instead of hopping to a thread for a cached value."""
    return get_api_settings()


# As many threads as the engine's pool keeps connections: one more would take an overflow connection,
# closed again as it comes back, so under load each request past the pool would start a new
# PostgreSQL backend (a fork and a login) and end it again (benchmarks/RESULTS.md, API section).
DATABASE_THREADS = POOL_SIZE


@functools.cache
def database_threads() -> ThreadPoolExecutor:
    """The hot endpoints' threads, a plain executor rather than anyio's to_thread."""
    return ThreadPoolExecutor(max_workers=DATABASE_THREADS, thread_name_prefix="api-db")


async def in_thread(work: Callable[..., T], *args: Any) -> T:
    """Run `work(*args)` in one of the database threads (the hot endpoints)."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(database_threads(), context.run, work, *args)


def _with_autocommit(work: Callable[..., T], *args: Any) -> T:
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return work(connection, *args)


async def in_autocommit(work: Callable[..., T], *args: Any) -> T:
    """Run `work(connection, *args)` in a database thread on a connection without a transaction:
    a read of one statement then costs one round trip, not three (BEGIN, the read, COMMIT)."""
    return await in_thread(_with_autocommit, work, *args)


# scope="function": commit before the response goes out, so a client that saw 200 and asks
# again reads what it just changed (and a failed commit is an error, not a silent success).
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
SettingsDep = Annotated[ApiSettings, Depends(api_settings)]
# Database ids are 32-bit on PostgreSQL; anything else is a 422 naming the path parameter.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


def field_error(location: str, field: str, message: str, status: int = 422) -> NoReturn:
    """Refuse the request with a 4xx naming the field (see `errors`)."""
    raise BY_STATUS.get(status, ApiError)(message, location, field)


def not_found(what: str) -> NoReturn:
    raise NotFound(what)
