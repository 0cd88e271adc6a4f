"""Taste prompts through the text tower: the tiny random open_clip model embeds them, a real embedder
worker stores the vectors, and a real trainer worker scores the memes with them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from memethresher_embedder import tasks as embed_tasks
from memethresher_embedder.encoders import get_encoder, load_encoder
from memethresher_embedder.settings import EmbedderSettings
from memethresher_embedder.text import TextTowerUnavailable, load_tokenizer
from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.db import session_scope
from memethresher_shared.models import PROMPT_PRIOR_KIND, Embedding, ModelVersion, PromptVector, Score, TastePrompt
from memethresher_shared.vectors import from_stored
from memethresher_trainer.prior import prior_scores
from sqlalchemy import select

from tests.conftest import wait_until
from tests.support.queues import queued_tasks

TINY = "tiny-siglip:random"
OFFLINE = "efficientnet_lite0:imagenet"


def add_prompts(*prompts: tuple[str, bool]) -> list[int]:
    with session_scope() as session:
        rows = [TastePrompt(text=text, liked=like) for text, like in prompts]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def stored_vectors(encoder: str = TINY) -> dict[int, np.ndarray]:
    with session_scope() as session:
        rows = session.scalars(select(PromptVector).where(PromptVector.encoder == encoder)).all()
        return {row.prompt_id: from_stored(row.vector, row.dim) for row in rows}


def test_the_tiny_model_keeps_a_text_tower_in_the_images_space() -> None:
    encoder = load_encoder(TINY, EmbedderSettings())
    vectors = encoder.encode_text(["programming jokes", "screenshots of tweets"])
    assert vectors.shape == (2, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1]), "two prompts, one vector"


def test_the_setting_drops_the_text_tower_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBED_TEXT_TOWER", "off")
    encoder = load_encoder(TINY, EmbedderSettings())
    assert encoder.text is None
    assert encoder.encode(np.zeros((1, 3, 64, 64), np.uint8)).shape == (1, encoder.dim)  # images still embed
    with pytest.raises(TextTowerUnavailable, match="MEMETHRESHER_EMBED_TEXT_TOWER=off"):
        encoder.encode_text(["programming jokes"])


def test_a_released_siglip_tokenizer_without_transformers_says_what_to_install() -> None:
    try:
        import transformers  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("transformers is installed here")
    with pytest.raises(TextTowerUnavailable, match="pip install transformers"):
        load_tokenizer("ViT-B-16-SigLIP2", None)


def test_prompts_without_a_vector_are_embedded_once_and_the_prior_requested(
    env: object, monkeypatch: pytest.MonkeyPatch, redis_conn
) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBEDDER", TINY)
    liked, disliked = add_prompts(("programming jokes", True), ("screenshots of tweets", False))
    summary = embed_tasks.embed_prompts.apply().get()
    assert summary == {"encoder": TINY, "embedded": {TINY: [liked, disliked]}}
    expected = get_encoder(TINY).encode_text(["programming jokes", "screenshots of tweets"])
    vectors = stored_vectors()
    np.testing.assert_allclose(vectors[liked], expected[0], atol=2e-3)  # stored as float16
    np.testing.assert_allclose(vectors[disliked], expected[1], atol=2e-3)
    assert queued_tasks(redis_conn, tasks.TRAIN_QUEUE) == [(tasks.PROMPT_PRIOR, [TINY])]

    again = embed_tasks.embed_prompts.apply().get()
    assert again["embedded"] == {TINY: []}, "a prompt with a vector is not embedded again"


def test_an_encoder_without_a_text_tower_embeds_no_prompt(env: object, redis_conn) -> None:
    add_prompts(("programming jokes", True))  # the configured encoder is the offline EfficientNet
    assert embed_tasks.embed_prompts.apply().get() == {"encoder": OFFLINE, "embedded": {}}
    assert stored_vectors(OFFLINE) == {}
    assert queued_tasks(redis_conn, tasks.TRAIN_QUEUE) == []


@pytest.mark.integration
def test_a_prompt_scores_the_memes_through_real_embedder_and_trainer_workers(
    env, add_photos: Callable, start_worker: Callable
) -> None:
    ids = add_photos(6)
    worker_env = {**env.vars, "MEMETHRESHER_EMBEDDER": TINY}
    start_worker("memethresher_embedder.tasks", tasks.EMBED_QUEUE, worker_env)
    start_worker("memethresher_trainer.tasks", f"{tasks.TRAIN_QUEUE},{tasks.SCORE_QUEUE}", worker_env)
    wait_until(lambda: len(meme_vectors()) == len(ids), timeout_s=90, message="the start-up sweep")
    [prompt] = add_prompts(("programming jokes", True))
    send(tasks.EMBED_PROMPTS)

    version = wait_until(prior_version, timeout_s=90, message="the prompt prior to become current")
    prompt_vector = stored_vectors()[prompt]
    assert prompt_vector.shape == (64,)
    memes = meme_vectors()
    expected = dict(zip(memes, prior_scores(np.stack(list(memes.values())), prompt_vector[None], [True]), strict=True))
    with session_scope() as session:
        rows = session.execute(select(Score.meme_id, Score.mean).where(Score.model_version_id == version)).all()
    scores = dict(rows)
    assert sorted(scores) == sorted(ids)
    for meme_id, score in scores.items():
        assert score == pytest.approx(expected[meme_id], abs=1e-3)


def meme_vectors() -> dict[int, np.ndarray]:
    with session_scope() as session:
        rows = session.scalars(select(Embedding).where(Embedding.encoder == TINY).order_by(Embedding.meme_id)).all()
        return {row.meme_id: from_stored(row.vector, row.dim) for row in rows}


def prior_version() -> int | None:
    """The current version's id once it is the prompt prior and has scored the memes."""
    with session_scope() as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.is_current.is_(True)))
        if version is None or version.config.get("kind") != PROMPT_PRIOR_KIND:
            return None
        scored = session.scalars(select(Score.meme_id).where(Score.model_version_id == version.id)).all()
        return version.id if scored else None


def test_a_sweep_sends_the_prompts_still_without_a_vector(
    env: object, monkeypatch: pytest.MonkeyPatch, redis_conn
) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBEDDER", TINY)
    embed_tasks.embed_missing.apply().get()
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == [], "no prompt, nothing to send"
    add_prompts(("programming jokes", True))  # written while no worker ran
    embed_tasks.embed_missing.apply().get()
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == [(tasks.EMBED_PROMPTS, [])]
