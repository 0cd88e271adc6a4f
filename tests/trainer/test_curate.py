"""Curation: the top fraction by score goes to the queue, near-duplicates of kept memes and of the library
folder's do not."""

from __future__ import annotations

import numpy as np
from memethresher_trainer.curate import pick_for_curation, score_threshold
from sqlalchemy import select

from tests.trainer.conftest import ENCODER, add_memes
from tests.trainer.tastes import unit_vectors


def test_only_the_top_fraction_is_queued_best_first() -> None:
    scores = np.arange(100, dtype=float)
    threshold = score_threshold(scores, 0.05)
    picked = pick_for_curation(scores, unit_vectors(100, 32), threshold, np.zeros((0, 32)), 0.95)
    assert picked.tolist() == [99, 98, 97, 96, 95]


def test_near_duplicates_of_kept_memes_and_of_each_other_are_skipped() -> None:
    x = unit_vectors(4, 32)
    kept = x[:1]
    nearly_kept = x[0] + 0.01 * x[1]
    nearly_kept /= np.linalg.norm(nearly_kept)
    nearly_second = x[2] + 0.01 * x[3]
    nearly_second /= np.linalg.norm(nearly_second)
    candidates = np.stack([nearly_kept, x[2], nearly_second, x[3]])
    picked = pick_for_curation(np.array([9.0, 8.0, 7.0, 6.0]), candidates, 0.0, kept, 0.95)
    assert picked.tolist() == [1, 3]


def test_nothing_scored_means_nothing_reaches_the_threshold() -> None:
    assert score_threshold(np.zeros(0), 0.05) == float("inf")


def _library_meme(env, vector: np.ndarray) -> int:  # type: ignore[no-untyped-def]
    """A file dropped into the library folder, imported by the crawler's library scan, then embedded."""
    from memethresher_crawler.crawl import crawl_source
    from memethresher_crawler.library import ensure_library_source
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Embedding, Meme

    from tests.support.images import image_bytes

    (env.library / "an old favourite.png").write_bytes(image_bytes("PNG", seed=77))
    with session_scope() as session:
        source_id = ensure_library_source(session, env.library)
    assert source_id is not None and crawl_source(source_id)["images_new"] == 1
    with session_scope() as session:
        meme = session.scalars(select(Meme)).one()
        assert meme.in_library
        session.add(Embedding(meme_id=meme.id, encoder=ENCODER, dim=len(vector), vector=vector.astype("<f2").tobytes()))
        return meme.id


def test_the_library_folder_blocks_its_near_duplicates_and_is_never_a_candidate(env) -> None:  # type: ignore[no-untyped-def]
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import CurationItem, ModelVersion
    from memethresher_trainer import data, jobs
    from memethresher_trainer.settings import get_trainer_settings

    x = unit_vectors(3, 32, seed=5)
    near = x[0] + 0.01 * x[1]
    library_id = _library_meme(env, x[0])
    near_id, other_id = add_memes(np.stack([near / np.linalg.norm(near), x[2]]), first=100)
    settings = get_trainer_settings().model_copy(update={"curation_top_fraction": 1.0})
    with session_scope() as session:
        version = ModelVersion(encoder=ENCODER, artifact="models/x", is_current=True)
        session.add(version)
        session.flush()
        # Newly crawled memes scored on their own: the library meme is no candidate, yet it blocks.
        fresh = data.load_vectors(session, ENCODER, [near_id, other_id])
        mean = np.array([9.0, 8.0])
        assert jobs.curate(session, settings, version, fresh, mean, mean) == 1
        # Every meme scored, the library's best of all: still not queued, nor its near-duplicate.
        everything = data.load_vectors(session, ENCODER)
        scores = np.array([{library_id: 10.0, near_id: 9.0, other_id: 8.0}[int(i)] for i in everything.ids])
        jobs.curate(session, settings, version, everything, scores, scores)
        queued = set(session.scalars(select(CurationItem.meme_id)))
    assert queued == {other_id}
