"""The embedder during an encoder switch, run in this process against the real Redis and database: the
sweep covers the pending encoder too, new memes get both vectors, and the pending vectors move the switch on."""

from collections.abc import Callable

import pytest
from memethresher_embedder import tasks as embed_tasks
from memethresher_shared import encoder_state, tasks
from memethresher_shared.db import session_scope

from tests.support.queues import queued_tasks

TINY = "tiny-siglip:random"
OFFLINE = "efficientnet_lite0:imagenet"


@pytest.fixture
def switching(env: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny encoder is active (the setting); a switch to the offline one is under way."""
    monkeypatch.setenv("MEMETHRESHER_EMBEDDER", TINY)
    with session_scope() as session:
        encoder_state.begin_switch(session, OFFLINE, TINY, total=0)


def test_the_sweep_covers_the_pending_encoder_newest_first(
    switching: None, add_photos: Callable, redis_conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBED_BATCH_SIZE", "2")
    ids = add_photos(3)
    summary = embed_tasks.embed_missing.apply().get()
    assert summary == {"encoder": TINY, "memes": 3, "batches": 2, "pending": {"encoder": OFFLINE, "memes": 3}}
    newest_first = list(reversed(ids))
    expected = [(tasks.EMBED_BATCH, [batch, encoder]) for encoder in (TINY, OFFLINE)
                for batch in (newest_first[:2], newest_first[2:])]  # fmt: skip
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == expected


def test_new_memes_during_a_switch_are_embedded_for_both_and_only_the_active_vectors_are_scored(
    switching: None, add_photos: Callable, redis_conn
) -> None:
    ids = add_photos(2)
    summary = embed_tasks.embed_batch.apply(args=[ids]).get()  # as the crawler sends them: no encoder
    assert summary["encoder"] == TINY and summary["embedded"] == 2
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == [(tasks.EMBED_BATCH, [ids, OFFLINE])]
    assert [name for name, _ in queued_tasks(redis_conn, tasks.SCORE_QUEUE)] == [tasks.SCORE_MEMES]
    pending = embed_tasks.embed_batch.apply(args=[ids, OFFLINE]).get()
    assert pending["embedded"] == 2
    assert len(queued_tasks(redis_conn, tasks.SCORE_QUEUE)) == 1  # not scored: no model of it serves yet
    assert queued_tasks(redis_conn, tasks.TRAIN_QUEUE) == [(tasks.SWITCH_CHECK, [])]  # the trainer looks
