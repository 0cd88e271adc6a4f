"""A worker of the shipped shape (threads pool, eight embed tasks held at once) killed mid-run loses nothing."""

from __future__ import annotations

import ast
import re
import time

import pytest
import sqlalchemy as sa
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.embedded_redis import EmbeddedRedis
from memethresher_shared.launcher import EMBEDDER_TASKS_AHEAD
from memethresher_shared.models import Embedding, Meme

from tests.conftest import Env, wait_until
from tests.integration.memes import add_sample_memes
from tests.integration.test_faults import kill_tree
from tests.integration.test_faults import sender as fault_sender

pytestmark = pytest.mark.integration
SHIPPED_POOL = ("--pool", "threads", "--concurrency", str(EMBEDDER_TASKS_AHEAD))
SUCCEEDED = re.compile(r"Task embedder\.embed_batch\[[^\]]+\] succeeded in [\d.]+s: (\{.*\})")


def embedded_count() -> int:
    with session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Embedding)) or 0


def newly_embedded(log: str) -> int:
    return sum(ast.literal_eval(match)["embedded"] for match in SUCCEEDED.findall(log))


def test_shipped_worker_killed_while_holding_many_tasks_embeds_every_meme_once(
    env: Env, own_redis: EmbeddedRedis, start_worker
) -> None:
    ids = add_sample_memes(env.root / "memes", 96)
    variables = {**env.vars, "MEMETHRESHER_BROKER_URL": own_redis.url, "MEMETHRESHER_TASK_VISIBILITY_TIMEOUT_S": "10",
                 "MEMETHRESHER_TORCH_THREADS": "1", "MEMETHRESHER_EMBED_MODEL_BATCH": "4",
                 "MEMETHRESHER_EMBED_BATCH_SIZE": "8"}  # fmt: skip
    first = start_worker("memethresher_embedder.tasks", "embed", variables, name="doomed", extra_args=SHIPPED_POOL)
    sender = fault_sender(own_redis.url)
    sender.conf.task_routes = tasks.ROUTES
    for start in range(0, len(ids), 8):
        sender.send_task(tasks.EMBED_BATCH, args=[ids[start : start + 8]])
    # Killed once some tasks are written and acked while others are held, decoded or mid-batch.
    wait_until(lambda: embedded_count() >= 8, 90, interval_s=0.05, message="the first tasks to be written")
    kill_tree(first.process.pid)
    first.process.wait(10)
    at_kill = embedded_count()
    assert at_kill < len(ids), "every task finished before the kill; the test proves nothing"

    second = start_worker("memethresher_embedder.tasks", "embed", variables, name="survivor", extra_args=SHIPPED_POOL)
    wait_until(lambda: embedded_count() == len(ids), 120, message="every meme embedded after the kill")
    time.sleep(1.0)  # any late redelivery would add nothing; give it the chance to try
    with session_scope() as session:
        statuses = set(session.scalars(sa.select(Meme.status)))
        rows = session.execute(sa.select(Embedding.meme_id, Embedding.encoder)).all()
    assert statuses == {"embedded"}
    assert len(rows) == len({meme_id for meme_id, _ in rows}) == len(ids)
    # The survivor embedded exactly what was missing at the kill: no acked task's vectors were lost,
    # and the redelivered tasks the doomed worker had already written were not embedded again.
    assert newly_embedded(second.log.read_text()) == len(ids) - at_kill
