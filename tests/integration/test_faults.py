"""Faults survived with real processes: nothing is lost when workers, Redis or database connections die."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest
import redis
import sqlalchemy as sa
from celery import Celery
from memethresher_shared import coordination, tasks
from memethresher_shared.db import session_scope
from memethresher_shared.embedded_redis import EmbeddedRedis
from memethresher_shared.models import Embedding, Meme, ModelVersion, Rating

from tests.conftest import REPO, Env, wait_until
from tests.integration.memes import add_sample_memes
from tests.integration.rater import free_port, wait_for_stats
from tests.trainer.conftest import ENCODER, add_ratings
from tests.trainer.conftest import add_memes as add_vector_memes
from tests.trainer.tastes import hidden_taste, unit_vectors

pytestmark = pytest.mark.integration


def sender(broker_url: str) -> Celery:
    app = Celery("fault-test", broker=broker_url)
    app.conf.task_routes = tasks.ROUTES
    return app


def embedded_count(env: Env) -> int:
    try:
        with session_scope() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Embedding)) or 0
    except sa.exc.OperationalError:  # this test's own connection was dropped too: ask again next poll
        return -1


def kill_tree(pid: int) -> None:
    process = psutil.Process(pid)
    for proc in [process, *process.children(recursive=True)]:
        proc.send_signal(signal.SIGKILL)


def test_embed_worker_killed_mid_batch_loses_nothing(env: Env, own_redis: EmbeddedRedis, start_worker) -> None:
    ids = add_sample_memes(env.root / "memes", 48)
    variables = {**env.vars, "MEMETHRESHER_BROKER_URL": own_redis.url, "MEMETHRESHER_TASK_VISIBILITY_TIMEOUT_S": "10",
                 "MEMETHRESHER_TORCH_THREADS": "1", "MEMETHRESHER_EMBED_MODEL_BATCH": "4"}  # fmt: skip
    first = start_worker("memethresher_embedder.tasks", "embed", variables, name="doomed")
    sender(own_redis.url).send_task(tasks.EMBED_BATCH, args=[ids])
    wait_until(lambda: "embedder.embed_batch" in first.output(), 30, message="the batch to start")
    time.sleep(1.0)
    kill_tree(first.process.pid)
    first.process.wait(10)
    assert embedded_count(env) == 0, "the batch finished before the kill; the test proves nothing"

    start_worker("memethresher_embedder.tasks", "embed", variables, name="survivor")
    wait_until(lambda: embedded_count(env) == len(ids), 120, message="every meme embedded after the kill")
    with session_scope() as session:
        statuses = session.scalars(sa.select(Meme.status)).all()
        rows = session.execute(sa.select(Embedding.meme_id, Embedding.encoder)).all()
    assert set(statuses) == {"embedded"}
    assert len(rows) == len(set(rows)) == len(ids)


def test_redis_restart_during_crawl_and_embedding_loses_nothing(env: Env, own_redis: EmbeddedRedis,
                                                              start_worker) -> None:  # fmt: skip
    from memethresher_shared.samples import write_samples
    from memethresher_shared.sources import add_source

    folder = env.root / "incoming"
    write_samples(folder, 60, seed=11)
    with session_scope() as session:
        source_id = add_source(session, "folder", str(folder)).id
    variables = {**env.vars, "MEMETHRESHER_BROKER_URL": own_redis.url, "MEMETHRESHER_TORCH_THREADS": "1",
                 "MEMETHRESHER_EMBED_BATCH_SIZE": "8"}  # fmt: skip
    start_worker("memethresher_crawler.tasks", "crawl", variables)
    start_worker("memethresher_embedder.tasks", "embed", variables)
    sender(own_redis.url).send_task(tasks.CRAWL_SOURCE, args=[source_id])
    wait_until(lambda: 0 < embedded_count(env), 120, message="embedding to begin")
    own_redis.stop()
    time.sleep(2)
    own_redis.start()
    wait_until(lambda: embedded_count(env) == 60, 240, message="all 60 memes embedded after the restart")
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Meme)) == 60


@pytest.mark.postgres
def test_dropped_postgres_connections_are_retried(pg_env: Env, own_redis: EmbeddedRedis, start_worker) -> None:
    ids = add_sample_memes(pg_env.root / "memes", 40)
    variables = {**pg_env.vars, "MEMETHRESHER_BROKER_URL": own_redis.url, "MEMETHRESHER_TORCH_THREADS": "1"}
    start_worker("memethresher_embedder.tasks", "embed", variables)
    app = sender(own_redis.url)
    for start in range(0, len(ids), 4):
        app.send_task(tasks.EMBED_BATCH, args=[ids[start : start + 4]])
    database = pg_env.database_url.rsplit("/", 1)[1]
    admin = sa.create_engine(pg_env.database_url, isolation_level="AUTOCOMMIT")
    kills = 0

    def drop_connections_inside_tasks(wanted: int = 3, timeout_s: float = 120.0) -> None:
        """Terminate connections caught mid-statement or mid-transaction (not idle pooled ones)."""
        nonlocal kills
        deadline = time.monotonic() + timeout_s
        with admin.connect() as conn:
            while kills < wanted and time.monotonic() < deadline:
                killed = conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"
                    " AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
                    " AND query NOT ILIKE 'SELECT count(*)%'"), {"db": database}).scalars().all()  # fmt: skip
                kills += sum(1 for ok in killed if ok)
                time.sleep(0.002)

    killer = threading.Thread(target=drop_connections_inside_tasks, daemon=True)
    killer.start()
    try:
        wait_until(lambda: embedded_count(pg_env) == len(ids), 180, message="every batch completed after retries")
    finally:
        killer.join()
        admin.dispose()
    # Connections were dropped inside running tasks, and still every meme was embedded (a task whose
    # statement failed was retried; one dropped while its session was closing just reconnected).
    assert kills > 0, "no connection was caught inside a task; the test proves nothing"


def test_acknowledged_ratings_survive_restarts(env: Env, own_redis: EmbeddedRedis) -> None:
    ids = add_sample_memes(env.root / "memes", 6)
    with session_scope() as session:
        session.execute(sa.update(Meme).values(status="embedded"))
    port = free_port()
    variables = {**env.vars, "MEMETHRESHER_BROKER_URL": own_redis.url, "MEMETHRESHER_RETRAIN_EVERY": "3"}

    def start_api() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "memethresher_api.main:create_app",
                                 "--port", str(port)], env=variables, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    api = start_api()
    acknowledged = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_for_stats(client, lambda s: True, 60)
            for index in range(12):
                if index == 6:
                    own_redis.stop()  # the broker vanishes mid-session: ratings must still be taken
                response = client.post("/api/ratings", json={"a": ids[index % 6], "b": ids[(index + 1) % 6],
                                                             "choice": "a"})  # fmt: skip
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
            os.kill(api.pid, signal.SIGKILL)
            api.wait(10)
            own_redis.start()
            api = start_api()
            stats = wait_for_stats(client, lambda s: True, 60)
    finally:
        api.terminate()
        api.wait(20)
    assert len(acknowledged) == 12
    assert stats["ratings"] == 12
    with session_scope() as session:
        stored = set(session.scalars(sa.select(Rating.id)).all())
    assert set(acknowledged) <= stored


def test_a_trainer_killed_mid_training_holds_up_the_next_training_for_under_a_minute(
    env: Env, redis_conn: redis.Redis, start_worker
) -> None:  # type: ignore[no-untyped-def]
    vectors = unit_vectors(80, 32)
    ids = add_vector_memes(vectors)
    add_ratings(ids, hidden_taste(vectors), 300)
    lock_key = coordination.TRAINING_LOCK.format(encoder=ENCODER)
    endless = {"MEMETHRESHER_ENSEMBLE_MAX_EPOCHS": "100000", "MEMETHRESHER_ENSEMBLE_PATIENCE": "100000"}
    doomed = start_worker("memethresher_trainer.tasks", "train", env.vars | endless, name="doomed")
    coordination.request_retrain(redis_conn, ENCODER)
    wait_until(lambda: redis_conn.exists(lock_key), 60, message=f"the training to start\n{doomed.output()}")
    time.sleep(2.0)
    token = redis_conn.get(lock_key)
    kill_tree(doomed.process.pid)
    doomed.process.wait(10)
    killed_at = time.monotonic()
    assert token is not None and 0 < redis_conn.pttl(lock_key) <= 60_000
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ModelVersion)) == 0, "it finished first"

    quick = {"MEMETHRESHER_ENSEMBLE_MAX_EPOCHS": "20", "MEMETHRESHER_TRAIN_RETRY_S": "1"}
    survivor = start_worker("memethresher_trainer.tasks", "train,score", env.vars | quick, name="survivor")
    assert coordination.request_retrain(redis_conn, ENCODER)  # the next rating's request: the flag was cleared
    wait_until(lambda: redis_conn.get(lock_key) not in (None, token), 75,
               message=f"the next training to take the lock\n{survivor.output()}")  # fmt: skip
    waited = time.monotonic() - killed_at
    assert waited < 62, f"the next training started {waited:.0f}s after the kill"
    wait_until(lambda: _current_versions() == 1, 60, message=f"the next training's version\n{survivor.output()}")


def _current_versions() -> int:
    with session_scope() as session:
        return int(session.scalar(sa.select(sa.func.count()).where(ModelVersion.is_current.is_(True))) or 0)
