"""The trainer's side of an encoder switch on a real database: it waits for coverage, compares both
encoders on the same held-out pairs, completes only when the new one is at least as good, and never
leaves a scored meme without a score."""

from __future__ import annotations

import numpy as np
from memethresher_shared import coordination, encoder_state
from memethresher_shared.db import session_scope
from memethresher_shared.models import Embedding, EncoderSwitch, Meme, Score
from memethresher_shared.rating_events import rating_events
from memethresher_shared.versions import current_version
from memethresher_trainer import jobs, switch
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy import select, update

from tests.conftest import Env
from tests.trainer.conftest import ENCODER, add_memes, add_ratings
from tests.trainer.tastes import hidden_taste, unit_vectors

NEW = "tiny-siglip:random"


def add_vectors(ids: list[int], vectors: np.ndarray, encoder: str = NEW) -> None:
    with session_scope() as session:
        for meme_id, vector in zip(ids, vectors, strict=True):
            session.add(Embedding(meme_id=meme_id, encoder=encoder, dim=len(vector),
                                  vector=vector.astype("<f2").tobytes()))  # fmt: skip


def rated_install(old_vectors: np.ndarray, taste: np.ndarray) -> list[int]:
    """Memes embedded by the old encoder, rated, with a current model of it that scored them all."""
    ids = add_memes(old_vectors)
    add_ratings(ids, taste, 300)
    with session_scope() as session:
        assert jobs.train(session, get_trainer_settings(), ENCODER)["status"] == "trained"
        encoder_state.begin_switch(session, NEW, ENCODER, total=len(ids))
    return ids


def advance() -> dict:
    with session_scope() as session:
        return switch.advance(session, get_trainer_settings())


def the_switch() -> EncoderSwitch:
    with session_scope() as session:
        return session.scalars(select(EncoderSwitch)).one()


def scored_by_current(encoder: str) -> set[int]:
    with session_scope() as session:
        version = current_version(session, encoder)
        assert version is not None
        return set(session.scalars(select(Score.meme_id).where(Score.model_version_id == version.id)))


def noisy(vectors: np.ndarray, scale: float, seed: int = 5) -> np.ndarray:
    x = vectors + scale * np.random.default_rng(seed).normal(size=vectors.shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_a_better_encoder_takes_over_only_once_every_scored_meme_has_its_vector(env: Env) -> None:
    clean = unit_vectors(120, 32)
    taste = hidden_taste(clean)
    ids = rated_install(noisy(clean, 1.5), taste)  # the old encoder sees the taste dimly
    add_vectors(ids[:100], clean[:100])
    assert advance()["status"] == "embedding"  # 100 of 120 is under the 95% it waits for
    add_vectors(ids[100:115], clean[100:115])  # 115 of 120: enough to train, not to take over
    assert advance()["status"] == "comparing"
    pending = the_switch()
    assert pending.comparison["verdict"] == "accepted", pending.comparison
    assert pending.comparison["new"]["val_loss"] <= pending.comparison["old"]["val_loss"]
    assert pending.comparison["waiting_for"] == 5
    with session_scope() as session:
        assert encoder_state.active_encoder(session, ENCODER) == ENCODER  # the old one still serves
    add_vectors(ids[115:], clean[115:])
    assert advance()["status"] == "done"
    with session_scope() as session:
        assert encoder_state.active_encoder(session, ENCODER) == NEW
        version = current_version(session, NEW)
        assert version is not None and version.id == the_switch().model_version_id
        # Trained on every rating event so far: the next rating does not find a retrain due.
        events = session.scalar(select(rating_events()))
        assert not coordination.retrain_due(events + 1, version.n_ratings, get_trainer_settings().retrain_every)
    assert scored_by_current(NEW) == set(ids)


def test_a_meme_the_new_encoder_cannot_read_does_not_hold_the_switch(env: Env) -> None:
    clean = unit_vectors(120, 32)
    ids = rated_install(noisy(clean, 1.5), hidden_taste(clean))
    add_vectors(ids[:115], clean[:115])
    assert advance()["status"] == "comparing"
    assert the_switch().comparison["waiting_for"] == 5
    with session_scope() as session:  # as the embedder marks an image it could not embed
        session.execute(update(Meme).where(Meme.id.in_(ids[115:])).values(status="failed", failure_reason="bad"))
    assert advance()["status"] == "done"
    assert scored_by_current(NEW) == set(ids[:115])


def test_a_worse_encoder_is_rejected_with_the_figures_and_the_old_one_stays(env: Env) -> None:
    clean = unit_vectors(120, 32)
    taste = hidden_taste(clean)
    ids = rated_install(clean, taste)
    before = scored_by_current(ENCODER)
    add_vectors(ids, unit_vectors(120, 32, seed=9))  # vectors that know nothing of the taste
    assert advance()["status"] == "rejected"
    rejected = the_switch()
    assert rejected.finished_at is not None
    assert "worse than the current encoder" in (rejected.reason or "")
    assert rejected.comparison["new"]["n_val_pairs"] == rejected.comparison["old"]["n_val_pairs"] > 0
    with session_scope() as session:
        assert encoder_state.active_encoder(session, ENCODER) == ENCODER
        assert encoder_state.pending_switch(session) is None
        assert current_version(session, NEW) is None  # its model is kept aside, never current
    assert scored_by_current(ENCODER) == before == set(ids)


def test_a_switch_cancelled_while_it_trains_is_left_alone_by_the_trainer(env: Env) -> None:
    clean = unit_vectors(60, 16)
    ids = rated_install(noisy(clean, 1.5), hidden_taste(clean))
    add_vectors(ids, clean)
    with session_scope() as session:
        encoder_state.move(encoder_state.pending_switch(session), "training")  # type: ignore[arg-type]
    with session_scope() as session:
        encoder_state.cancel(session, "cancelled by the user")
    assert advance()["status"] == "idle"
    assert the_switch().status == "cancelled"
    with session_scope() as session:
        assert encoder_state.active_encoder(session, ENCODER) == ENCODER


def test_the_margin_asked_for_decides_close_calls() -> None:
    new, old = {"val_loss": 0.66, "n_val_pairs": 40}, {"val_loss": 0.65, "n_val_pairs": 40}
    assert switch.verdict_of(new, old)[0] == "rejected"  # worse, and no margin allowed
    verdict, why = switch.verdict_of(new, old, min_gain=-0.05)  # a faster encoder may be a little worse
    assert verdict == "accepted" and why.startswith("worse, within the margin allowed")
    verdict, why = switch.verdict_of(old, new, min_gain=0.05)
    assert verdict == "rejected" and why.startswith("not better by the gain wanted")
    assert switch.verdict_of({"val_loss": None, "n_val_pairs": 0}, old)[1].startswith("too few held-out")


def test_an_install_that_only_curates_compares_encoders_on_its_held_out_decisions() -> None:
    new = {"val_loss": 0.40, "n_val_pairs": 0, "n_val_absolute": 30}
    verdict, why = switch.verdict_of(new, {"val_loss": 0.45, "n_val_pairs": 0, "n_val_absolute": 30})
    assert verdict == "accepted" and why.endswith("on 30 decisions")
    both = switch.verdict_of(new | {"n_val_pairs": 12}, {"val_loss": 0.45})[1]
    assert both.endswith("on 12 pairs and 30 decisions")
