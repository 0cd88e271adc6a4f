"""The task wiring, run in this process against the real Redis and database."""

from collections.abc import Callable

import pytest
from memethresher_embedder import tasks as embed_tasks
from memethresher_shared import tasks

from tests.support.queues import queued_tasks

TINY = "tiny-siglip:random"
OFFLINE = "efficientnet_lite0:imagenet"


@pytest.fixture
def tiny_configured(env: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBEDDER", TINY)


def test_embedded_memes_of_the_configured_encoder_are_sent_for_scoring(
    tiny_configured: None, add_photos: Callable, redis_conn
) -> None:
    ids = add_photos(4)
    summary = embed_tasks.embed_batch.apply(args=[ids]).get()
    assert summary["encoder"] == TINY and summary["embedded"] == 4
    [(name, (scored,))] = queued_tasks(redis_conn, tasks.SCORE_QUEUE)
    assert name == tasks.SCORE_MEMES and sorted(scored) == sorted(ids)


def test_vectors_of_another_encoder_are_not_scored(tiny_configured: None, add_photos: Callable, redis_conn) -> None:
    ids = add_photos(2)
    summary = embed_tasks.embed_batch.apply(args=[ids, OFFLINE]).get()
    assert summary["encoder"] == OFFLINE and summary["embedded"] == 2
    assert queued_tasks(redis_conn, tasks.SCORE_QUEUE) == []


def test_embed_missing_sends_batches_newest_first(
    tiny_configured: None, add_photos: Callable, redis_conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBED_BATCH_SIZE", "2")
    ids = add_photos(5)  # ids[0] is the oldest
    summary = embed_tasks.embed_missing.apply().get()
    assert summary == {"encoder": TINY, "memes": 5, "batches": 3}
    newest_first = list(reversed(ids))
    expected = [(tasks.EMBED_BATCH, [newest_first[i : i + 2], TINY]) for i in (0, 2, 4)]
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == expected


def test_sweep_requests_coalesce_per_encoder(env: object, redis_conn) -> None:
    assert embed_tasks.request_sweep(redis_conn, TINY)
    assert not embed_tasks.request_sweep(redis_conn, TINY)  # a second worker starting with it
    assert embed_tasks.request_sweep(redis_conn, OFFLINE)  # another encoder sweeps on its own
    assert [name for name, _ in queued_tasks(redis_conn, tasks.EMBED_QUEUE)] == [tasks.EMBED_MISSING] * 2
