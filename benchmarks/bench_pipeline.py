"""Pipeline scaling (issue 7): memes crawled from the fake Reddit into the store (not timed), then
timed from the first `embed` task to the last score, with one embed worker and then two, each limited
to one torch thread and one decode thread. `scaling` = memes_per_s_2 / memes_per_s_1 (target >= 1.7
on a 2-core machine: the queue, the database and the scorer must not serialise the workers).

    python benchmarks/bench_pipeline.py [--quick] [--memes N] [--database postgres|sqlite]

Writes benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from benchmarks.bench_crawl import configure as configure_crawler  # noqa: E402
from benchmarks.bench_crawl import cpu_seconds, start_fake, worker_processes  # noqa: E402
from tests.conftest import Worker, wait_until  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "pipeline.json"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
EMBED_TASK_BATCH = 32


def create_database(kind: str, root: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{root / 'pipeline.db'}", None
    name = f"mt_bench_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(name: str | None) -> None:
    if name:
        with sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count(model: type, *where: object) -> int:
    from memethresher_shared.db import session_scope

    with session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def crawl(posts: int) -> list[int]:
    """Untimed: every post crawled into the store and `memes`; the embed batches it queued are dropped."""
    from memethresher_crawler.crawl import crawl_source
    from memethresher_shared.coordination import redis_client
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Meme
    from memethresher_shared.sources import add_source

    with session_scope() as session:
        sources = [add_source(session, "reddit", f"r/bench{n}").id for n in range((posts + 999) // 1000)]
    for source_id in sources:
        crawl_source(source_id)
    redis_client().delete("embed")
    with session_scope() as session:
        return list(session.scalars(sa.select(Meme.id).order_by(Meme.id)))


def send_batches(ids: list[int]) -> None:
    from memethresher_shared import tasks
    from memethresher_shared.celery_app import send

    for start in range(0, len(ids), EMBED_TASK_BATCH):
        send(tasks.EMBED_BATCH, ids[start : start + EMBED_TASK_BATCH])


def train_first_model(ids: list[int], env: dict[str, str], logs: Path) -> int:
    """A current model to score with: 64 memes embedded, 80 random ratings, one training."""
    from memethresher_shared import tasks
    from memethresher_shared.celery_app import send
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Embedding, ModelVersion, Rating

    seed_ids = ids[:64]
    embedder = Worker("memethresher_embedder.tasks", "embed", "warmup-embed", env, logs / "warmup-embed.log")
    embedder.wait_ready()
    send_batches(seed_ids)
    wait_until(lambda: count(Embedding) >= len(seed_ids), 600, message="the first memes to be embedded")
    embedder.stop()
    rng = random.Random(0)
    with session_scope() as session:
        for _ in range(80):
            a, b = rng.sample(seed_ids, 2)
            session.add(Rating(a_id=a, b_id=b, choice=rng.choice(["a", "b", "a+", "b+", "tie"])))
    send(tasks.TRAIN)
    wait_until(lambda: count(ModelVersion, ModelVersion.is_current) == 1, 600, message="the first model version")
    with session_scope() as session:
        return session.scalar(sa.select(ModelVersion.id).where(ModelVersion.is_current))  # type: ignore[return-value]


def reset() -> None:
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Embedding, Meme, Score

    with session_scope() as session:
        session.execute(sa.delete(Score))
        session.execute(sa.delete(Embedding))
        session.execute(sa.update(Meme).values(status="new", failure_reason=None))


def warm_up(ids: list[int]) -> None:
    """One-meme tasks, so every worker loads its model before the clock starts."""
    from memethresher_shared import tasks
    from memethresher_shared.celery_app import send
    from memethresher_shared.coordination import redis_client
    from memethresher_shared.models import Embedding

    reset()
    for meme_id in ids:
        send(tasks.EMBED_BATCH, [meme_id])
    wait_until(lambda: count(Embedding) >= len(ids), 600, message="the warm-up batches")
    wait_until(lambda: redis_client().llen("score") == 0, 600, message="the warm-up scores")
    time.sleep(1.0)  # the last score task finishes before the reset


def worker_cpu_seconds(worker: Worker) -> float:
    """User + system CPU of a worker and its pool processes so far."""
    return cpu_seconds(worker_processes(worker.process))


def timed_run(workers: int, ids: list[int], version: int, env: dict[str, str], logs: Path,
              scorer: Worker) -> tuple[float, dict[str, float]]:  # fmt: skip
    from memethresher_shared.models import Score

    started = [Worker("memethresher_embedder.tasks", "embed", f"embed{n}-of-{workers}", env,
                      logs / f"embed{n}-of-{workers}.log") for n in range(workers)]  # fmt: skip
    try:
        for worker in started:
            worker.wait_ready()
        warm_up(ids[: 4 * workers])
        reset()
        cpu_before = [worker_cpu_seconds(w) for w in started], worker_cpu_seconds(scorer)
        began = time.perf_counter()
        send_batches(ids)
        wait_until(lambda: count(Score, Score.model_version_id == version) >= len(ids), 3600,
                   interval_s=0.1, message="every meme scored")  # fmt: skip
        seconds = time.perf_counter() - began
        embed_cpu = sum(worker_cpu_seconds(w) for w in started) - sum(cpu_before[0])
        cpu = {"seconds": round(seconds, 2), "embed_workers_cores": round(embed_cpu / seconds, 2),
               "scorer_cores": round((worker_cpu_seconds(scorer) - cpu_before[1]) / seconds, 2)}  # fmt: skip
        return len(ids) / seconds, cpu
    finally:
        for worker in started:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 memes instead of 2,000")
    parser.add_argument("--memes", type=int)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    memes = args.memes or (400 if args.quick else 2000)

    from memethresher_shared.db import reset_caches
    from memethresher_shared.embedded_redis import EmbeddedRedis
    from memethresher_shared.migrate import upgrade

    fake, base_url, _image_url = start_fake(memes, 2.0)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis", persist=False)
        database_url, pg_name = create_database(args.database, root)
        try:
            configure_crawler(root, base_url, redis_server.start())
            os.environ.update({
                "MEMETHRESHER_DATABASE_URL": database_url, "MEMETHRESHER_METRICS_PORT": "0",
                "MEMETHRESHER_TORCH_THREADS": "1", "MEMETHRESHER_EMBED_PREP_WORKERS": "1",
                "MEMETHRESHER_EMBED_BATCH_SIZE": str(EMBED_TASK_BATCH), "MEMETHRESHER_RETRAIN_EVERY": "1000000",
                "MEMETHRESHER_LOG_FORMAT": "text",
            })  # fmt: skip
            reset_caches()
            upgrade(database_url)
            env = dict(os.environ)
            ids = crawl(memes)
            trainer = Worker("memethresher_trainer.tasks", "train", "trainer", env, root / "trainer.log")
            scorer = Worker("memethresher_trainer.tasks", "score", "scorer", env, root / "scorer.log")
            try:
                trainer.wait_ready()
                scorer.wait_ready()
                version = train_first_model(ids, env, root)
                rate_1, cpu_1 = timed_run(1, ids, version, env, root, scorer)
                rate_2, cpu_2 = timed_run(2, ids, version, env, root, scorer)
            finally:
                trainer.stop()
                scorer.stop()
        finally:
            redis_server.stop()
            drop_database(pg_name)
            fake.stdin.close()  # type: ignore[union-attr]
            fake.wait(10)
    figures = {
        "memes": len(ids),
        "database": args.database,
        "memes_per_s_1": round(rate_1, 2),
        "memes_per_s_2": round(rate_2, 2),
        "scaling": round(rate_2 / rate_1, 3),
        "target_scaling": 1.7,
        # Cores kept busy (CPU seconds / wall seconds) while timed: where the two cores went.
        "cpu_1": cpu_1,
        "cpu_2": cpu_2,
        "machine": os.environ.get("BENCH_MACHINE", f"{os.cpu_count()}-core CPU"),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{'embed workers':>14} | {'memes/s':>8} | {'embed cores':>11} | {'scorer cores':>12}")
    for n, rate, cpu in ((1, rate_1, cpu_1), (2, rate_2, cpu_2)):
        print(f"{n:>14} | {rate:>8.2f} | {cpu['embed_workers_cores']:>11.2f} | {cpu['scorer_cores']:>12.2f}")
    print(f"scaling {figures['scaling']:.2f} (target >= 1.7) over {len(ids)} memes -> {RESULTS}")


if __name__ == "__main__":
    main()
