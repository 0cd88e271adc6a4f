"""Real Celery workers on the `embed` queue, as the crawler and an encoder switch drive them."""

import ast
import re
from collections.abc import Callable

import pytest
from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.db import session_scope
from memethresher_shared.models import Embedding, Meme
from sqlalchemy import func, select

from tests.conftest import wait_until
from tests.support.queues import queued_tasks

TINY = "tiny-siglip:random"
SWEPT = re.compile(r"Task embedder\.embed_missing\[[^\]]+\] succeeded")
SUCCEEDED = re.compile(r"Task embedder\.embed_batch\[[^\]]+\] succeeded in [\d.]+s: (\{.*\})")


def batch_results(log: str) -> list[dict]:
    return [ast.literal_eval(match) for match in SUCCEEDED.findall(log)]


def count_vectors() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Embedding).where(Embedding.encoder == TINY)) or 0


def logged(workers: list, pattern: re.Pattern) -> list[str]:
    return [match for w in workers for match in pattern.findall(w.log.read_text())]


@pytest.mark.integration
def test_two_workers_on_one_queue_embed_every_meme_exactly_once(
    env, add_photos: Callable, store_meme: Callable, jpeg: Callable, start_worker: Callable, redis_conn
) -> None:
    # Memes already there when the workers start: no vectors for the configured encoder (a switch).
    first = add_photos(6)
    worker_env = {**env.vars, "MEMETHRESHER_EMBEDDER": TINY, "MEMETHRESHER_EMBED_BATCH_SIZE": "3"}
    workers = [
        start_worker("memethresher_embedder.tasks", tasks.EMBED_QUEUE, worker_env, name=f"embed{i}", wait=False)
        for i in range(2)
    ]
    for worker in workers:
        worker.wait_ready(timeout_s=90)
    # Starting workers sweep in the background, one sweep between the two of them.
    wait_until(lambda: count_vectors() == len(first), timeout_s=60, message="the start-up sweep")
    wait_until(lambda: len(logged(workers, SUCCEEDED)) == 2, timeout_s=30, message="two start-up batches")

    # More memes, one of them broken, and a sweep sent while both workers are idle.
    later = [store_meme(jpeg(100 + i), age_s=-i) for i in range(30)]
    broken = store_meme(b"\x89PNG\r\n\x1a\n cut short", "PNG")
    send(tasks.EMBED_MISSING)
    wait_until(lambda: len(logged(workers, SUCCEEDED)) == 13, timeout_s=120, message="31 memes in 11 batches")

    assert len(logged(workers, SWEPT)) == 2, "one start-up sweep for both workers, and the one sent"
    results = {w.name: batch_results(w.log.read_text()) for w in workers}
    assert all(results.values()), f"both workers should take batches: {results}"
    ids = first + later
    assert sum(r["embedded"] for rs in results.values() for r in rs) == len(ids)  # no meme embedded twice
    assert count_vectors() == len(ids)

    with session_scope() as session:
        statuses = {row.id: row.status for row in session.execute(select(Meme.id, Meme.status))}
        reason = session.get(Meme, broken).failure_reason  # type: ignore[union-attr]
    assert {statuses[i] for i in ids} == {"embedded"} and statuses[broken] == "failed"
    assert reason and "cannot decode" in reason

    scored = queued_tasks(redis_conn, tasks.SCORE_QUEUE)
    assert {name for name, _ in scored} == {tasks.SCORE_MEMES}
    assert sorted(i for _, (batch,) in scored for i in batch) == sorted(ids)

    # The crawler re-sending a batch is harmless: nothing is embedded twice, nothing sent for scoring.
    send(tasks.EMBED_BATCH, later[:3])
    wait_until(lambda: len(logged(workers, SUCCEEDED)) == 14, timeout_s=30, message="the re-sent batch")
    assert any(
        r["already_embedded"] == 3 and r["embedded"] == 0 for r in map(ast.literal_eval, logged(workers, SUCCEEDED))
    )
    assert count_vectors() == len(ids) and len(queued_tasks(redis_conn, tasks.SCORE_QUEUE)) == len(scored)
