"""The whole loop on real processes: folder → store → embeddings → ratings over HTTP → model
version → scores → curation queue → pairs from an acquisition batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
import redis
from celery import Celery
from memethresher_shared import tasks
from memethresher_shared.db import make_engine
from memethresher_shared.migrate import upgrade
from memethresher_shared.samples import write_samples
from memethresher_shared.sources import add_source
from sqlalchemy.orm import Session

from tests.integration.rater import Rater, free_port, start_api, wait_for_stats

MACHINE_REDIS = "redis://127.0.0.1:6379/14"


def trained_and_curated(stats: dict) -> bool:
    return (
        stats["model_versions"] >= 1
        and stats["embedded"] > 0
        and stats["scored"] == stats["embedded"]
        and stats["curation_pending"] > 0
    )


def rate_until_acquisition(rater: Rater, pairs: int = 10) -> None:
    """After a model exists, the next pairs come from its acquisition batch."""
    rater.origins.clear()
    import random

    rng = random.Random(1)
    for _ in range(pairs):
        rater.rate_one(rng)
    assert "acquisition" in rater.origins, rater.origins


@pytest.fixture
def machine_redis() -> redis.Redis:
    client = redis.Redis.from_url(MACHINE_REDIS)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.mark.integration
@pytest.mark.postgres
def test_loop_on_machine_redis_and_postgres(tmp_path: Path, postgres_url: str, machine_redis: redis.Redis,
                                            start_worker) -> None:  # fmt: skip
    folder = tmp_path / "memes"
    write_samples(folder, count=48, seed=7)
    port = free_port()
    variables = {
        **os.environ,
        "MEMETHRESHER_DATA_DIR": str(tmp_path),
        "MEMETHRESHER_DATABASE_URL": postgres_url,
        "MEMETHRESHER_BROKER_URL": MACHINE_REDIS,
        "MEMETHRESHER_STORAGE": str(tmp_path / "images"),
        "MEMETHRESHER_LIBRARY_DIR": str(tmp_path / "library"),
        "MEMETHRESHER_RETRAIN_EVERY": "20",
        "MEMETHRESHER_EMBED_BATCH_SIZE": "16",
        "MEMETHRESHER_METRICS_PORT": "0",
    }
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    with Session(engine) as session:
        source_id = add_source(session, "folder", str(folder)).id
        session.commit()
    engine.dispose()

    for module, queue in [
        ("memethresher_crawler.tasks", "crawl"),
        ("memethresher_embedder.tasks", "embed"),
        ("memethresher_trainer.tasks", "train"),
        ("memethresher_trainer.tasks", "score"),
    ]:
        start_worker(module, queue, variables, wait=False)
    api = start_api(variables, port, tmp_path / "api.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for_stats(client, lambda s: True, timeout_s=60)
            Celery("test", broker=MACHINE_REDIS).send_task(tasks.CRAWL_SOURCE, args=[source_id], queue="crawl")
            wait_for_stats(client, lambda s: s["embedded"] == 48, timeout_s=240)
            rater = Rater(client, seed=3)
            rater.rate_until(trained_and_curated, max_ratings=60, timeout_s=300)
            assert rater.origins.count("random") >= 20  # before the first model, pairs are random
            rate_until_acquisition(rater)
    finally:
        api.terminate()
        api.wait(20)


@pytest.mark.integration
def test_loop_through_memethresher_up_on_embedded_defaults(tmp_path: Path) -> None:
    port, flower_port = free_port(), free_port()
    variables = {k: v for k, v in os.environ.items() if not k.startswith("MEMETHRESHER_")}
    variables |= {
        "MEMETHRESHER_PORT": str(port),
        "MEMETHRESHER_FLOWER_PORT": str(flower_port),
        "MEMETHRESHER_METRICS_PORT": str(free_port()),
    }
    log = (tmp_path / "up.log").open("wb")
    # Defaults only: ./data under the working directory, SQLite, an embedded Redis.
    up = subprocess.Popen([sys.executable, "-m", "memethresher_shared.cli", "up", "--demo"], cwd=tmp_path,
                          env=variables, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for_stats(client, lambda s: s["embedded"] >= 300, timeout_s=400)
            assert (tmp_path / "data" / "memethresher.db").exists()
            # Its own Redis on a unix socket: the machine's port 6379 is left alone.
            assert "embedded Redis on redis+socket://" in (tmp_path / "up.log").read_text()
            rater = Rater(client, seed=5)
            rater.rate_until(trained_and_curated, max_ratings=60, timeout_s=300)
            rate_until_acquisition(rater)
        descendants = psutil.Process(up.pid).children(recursive=True)
        assert len(descendants) >= 8  # redis, api, 4 workers, beat, flower
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-4000:]
    assert not [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
