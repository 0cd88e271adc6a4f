"""Fixtures shared by every test area: a private Redis for the session, fresh databases with
migrations applied, `MEMETHRESHER_*` settings pointing at them, and real Celery worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from memethresher_shared import coordination, db
from memethresher_shared.embedded_redis import EmbeddedRedis
from memethresher_shared.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "MEMETHRESHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session", autouse=True)
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One private redis-server per test session (unix socket); flushed after every test.

    The Celery app reads its broker URL once per process, so the whole session shares one."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
    url = server.start()
    os.environ["MEMETHRESHER_BROKER_URL"] = url
    yield url
    server.stop()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(coordination.redis_py_url(redis_url))
    yield client
    client.flushall()
    client.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'memethresher.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"mt_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is needed for this test: {error}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db.reset_caches()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@dataclass
class Env:
    """Where one test's MemeThresher lives; `vars` is what a subprocess needs in its environment."""

    root: Path
    database_url: str
    broker_url: str
    storage: Path
    library: Path
    vars: dict[str, str]


def _make_env(tmp_path: Path, database_url: str, broker_url: str, monkeypatch: pytest.MonkeyPatch) -> Env:
    storage, library = tmp_path / "images", tmp_path / "library"
    storage.mkdir(exist_ok=True)
    library.mkdir(exist_ok=True)
    values = {
        "MEMETHRESHER_DATA_DIR": str(tmp_path),
        "MEMETHRESHER_DATABASE_URL": database_url,
        "MEMETHRESHER_BROKER_URL": broker_url,
        "MEMETHRESHER_STORAGE": str(storage),
        "MEMETHRESHER_LIBRARY_DIR": str(library),
        "MEMETHRESHER_METRICS_PORT": "0",  # many test workers on one host: no metrics endpoints
        "MEMETHRESHER_LOG_FORMAT": "text",  # worker logs that tests read as a person would
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    reset_all()
    upgrade(database_url)
    return Env(tmp_path, database_url, broker_url, storage, library, {**os.environ, **values})


def reset_all() -> None:
    db.reset_caches()
    coordination.redis_client.cache_clear()


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str, redis_url: str, redis_conn: redis.Redis,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:  # fmt: skip
    """Settings pointing at a fresh, migrated SQLite database, a temp store and the session Redis."""
    yield _make_env(tmp_path, sqlite_url, redis_url, monkeypatch)
    reset_all()


@pytest.fixture
def pg_env(tmp_path: Path, postgres_url: str, redis_url: str, redis_conn: redis.Redis,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:  # fmt: skip
    """As `env`, on a fresh PostgreSQL database."""
    yield _make_env(tmp_path, postgres_url, redis_url, monkeypatch)
    reset_all()


class Worker:
    """A real Celery worker in its own process, logging to a file the test can print on failure."""

    def __init__(self, module: str, queues: str, name: str, env: dict[str, str], log: Path,
                 extra_args: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.name = f"{name}@{uuid.uuid4().hex[:6]}"
        self.log = log
        args = [sys.executable, "-m", "celery", "-A", module, "worker", "-Q", queues, "-n", self.name,
                "--concurrency", "1", "--prefetch-multiplier", "1", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", *extra_args]  # fmt: skip
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(args, env=env, cwd=REPO, stdout=self._log_file, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.output()}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready in {timeout_s}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """`start_worker("memethresher_embedder.tasks", "embed", env.vars)` → a ready Worker; all stopped after."""
    started: list[Worker] = []

    def start(module: str, queues: str, env_vars: dict[str, str], name: str | None = None,
              extra_args: tuple[str, ...] = (), wait: bool = True) -> Worker:  # fmt: skip
        worker_name = name or queues.replace(",", "-")
        worker = Worker(module, queues, worker_name, env_vars, tmp_path / f"{worker_name}-{len(started)}.log",
                        extra_args)  # fmt: skip
        started.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(predicate: Callable[[], object], timeout_s: float = 60.0, interval_s: float = 0.2,
               message: str = "condition") -> object:  # fmt: skip
    """Poll `predicate` until it returns something truthy; fail the test with `message` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s}s waiting for {message}")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A persisted Redis of this test's own: unacked tasks outlive a killed worker, and the test may restart it."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True)
    server.start()
    yield server
    server.stop()
