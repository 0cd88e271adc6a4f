"""Embedding batches against a real database (SQLite, and PostgreSQL where marked)."""

import functools
from collections.abc import Callable

import numpy as np
import pytest
from memethresher_embedder.batches import BatchReport, embed_memes, memes_missing_vectors
from memethresher_embedder.encoders import get_encoder
from memethresher_embedder.engine import Engine
from memethresher_shared.db import session_scope
from memethresher_shared.models import Embedding, Meme
from memethresher_shared.store import get_store
from memethresher_shared.vectors import from_stored
from sqlalchemy import select

TINY = "tiny-siglip:random"
OFFLINE = "efficientnet_lite0:imagenet"


@functools.cache
def engine(encoder_id: str, model_batch: int = 3, device_decode: bool = False) -> Engine:
    """One engine per shape for the whole session, as a worker keeps one for its life."""
    return Engine(get_encoder(encoder_id), 2, model_batch, 2, device_decode)


def run(meme_ids: list[int], encoder_id: str = TINY, model_batch: int = 3, device_decode: bool = False) -> BatchReport:
    return embed_memes(meme_ids, engine(encoder_id, model_batch, device_decode), encoder_id, get_store())


def vectors(encoder_id: str = TINY) -> dict[int, bytes]:
    with session_scope() as session:
        rows = session.scalars(select(Embedding).where(Embedding.encoder == encoder_id))
        return {row.meme_id: row.vector for row in rows}


def memes() -> dict[int, Meme]:
    with session_scope() as session:
        return {m.id: m for m in session.scalars(select(Meme))}


def test_a_batch_stores_unit_float16_vectors_tagged_with_the_encoder(add_photos: Callable) -> None:
    ids = add_photos(7)
    report = run(ids)
    assert sorted(report.embedded) == sorted(ids) and not report.failed
    stored = vectors()
    assert sorted(stored) == sorted(ids)
    for data in stored.values():
        vector = from_stored(data)
        assert vector.shape == (64,) and abs(float(np.linalg.norm(vector)) - 1) < 2e-3
    with session_scope() as session:
        assert {e.dim for e in session.scalars(select(Embedding))} == {64}
    assert {m.status for m in memes().values()} == {"embedded"}


@pytest.mark.parametrize("device_decode", [False, True], ids=["pillow", "device-jpeg"])
def test_a_bad_image_is_marked_failed_and_the_rest_of_the_batch_embeds(
    add_photos: Callable, store_meme: Callable, jpeg: Callable, device_decode: bool
) -> None:
    good = add_photos(4)
    corrupt = store_meme(b"\xff\xd8\xff\xe0 not really a jpeg", "JPEG")
    truncated = store_meme(jpeg(50)[:400], "JPEG")
    vanished = store_meme(jpeg(51), "JPEG")
    get_store().path(memes()[vanished].storage_key).unlink()
    report = run([good[0], corrupt, good[1], truncated, good[2], vanished, good[3]], device_decode=device_decode)
    assert sorted(report.embedded) == sorted(good)
    rows = memes()
    assert "cannot decode image" in (rows[corrupt].failure_reason or "")
    assert "truncated or corrupt" in (rows[truncated].failure_reason or "")
    assert "missing from the store" in (rows[vanished].failure_reason or "")
    assert {rows[i].status for i in (corrupt, truncated, vanished)} == {"failed"}
    assert {rows[i].status for i in good} == {"embedded"} and sorted(vectors()) == sorted(good)


def test_re_running_a_batch_changes_nothing(add_photos: Callable) -> None:
    ids = add_photos(5)
    run(ids[:3])
    before = vectors()
    report = run(ids)  # the first three again, plus two new
    assert sorted(report.already_embedded) == sorted(ids[:3]) and sorted(report.embedded) == sorted(ids[3:])
    after = vectors()
    assert {i: after[i] for i in before} == before
    again = run(ids)
    assert again.embedded == [] and sorted(again.already_embedded) == sorted(ids)
    assert vectors() == after


def test_unknown_ids_are_reported_not_fatal(add_photos: Callable) -> None:
    ids = add_photos(2)
    report = run([ids[0], 999_999, ids[1]])
    assert report.unknown == [999_999] and sorted(report.embedded) == sorted(ids)


def test_switching_encoder_re_embeds_newest_first_and_keeps_old_vectors(
    add_photos: Callable, store_meme: Callable
) -> None:
    ids = add_photos(4)  # ids[0] oldest
    broken = store_meme(b"GIF89a broken", "GIF")
    run([*ids, broken])
    with session_scope() as session:
        assert memes_missing_vectors(session, TINY) == []
        # A failed image is not retried with every new encoder.
        assert memes_missing_vectors(session, OFFLINE) == list(reversed(ids))
    run(memes_missing_vectors_now(OFFLINE)[:2], OFFLINE)
    assert sorted(vectors(OFFLINE)) == sorted(ids[2:])  # the two newest
    assert sorted(vectors(TINY)) == sorted(ids)  # old vectors stay
    assert memes_missing_vectors_now(OFFLINE) == [ids[1], ids[0]]
    dims = {len(from_stored(v)) for v in vectors(OFFLINE).values()}
    assert dims == {1280}


def memes_missing_vectors_now(encoder_id: str) -> list[int]:
    with session_scope() as session:
        return memes_missing_vectors(session, encoder_id)


@pytest.mark.postgres
def test_postgres_batch_with_a_bad_image_and_a_re_run(pg_env: object, jpeg: Callable, store_meme: Callable) -> None:
    good = [store_meme(jpeg(i), age_s=10 - i) for i in range(3)]
    bad = store_meme(b"nope", "PNG")
    first = run([*good, bad])
    assert sorted(first.embedded) == sorted(good) and list(first.failed) == [bad]
    stored = vectors()
    second = run([*good, bad])
    assert second.embedded == [] and vectors() == stored
    assert memes()[bad].status == "failed"
    assert get_store().root == pg_env.storage  # type: ignore[attr-defined]
    from memethresher_shared.db import get_engine

    assert get_engine().dialect.name == "postgresql"
