"""The trainer's side of an encoder switch: once the pending encoder's vectors cover enough memes,
train a model on them from every rating, compare it with the old encoder on the same pairs, and
complete the switch only if the new one does at least as well (plain functions; Celery in `tasks`).

The comparison trains both encoders afresh on the memes both have embedded, with the same config,
seed and held-out memes (the split is a hash of the meme id): the old encoder's current model was
refit on every rating, the held-out ones included, so its own metrics would flatter it."""

from __future__ import annotations

from typing import Any

import numpy as np
from memethresher_shared import encoder_state
from memethresher_shared.models import Embedding, EncoderSwitch, Meme, ModelVersion, Score
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from memethresher_trainer import data, jobs, publish
from memethresher_trainer.settings import TrainerSettings

# What the comparison records of each side's validation (measured on held-out memes before the refit).
COMPARED = ("val_loss", "val_accuracy", "n_val_pairs", "n_val_absolute")


def advance(session: Session, settings: TrainerSettings) -> dict[str, Any]:
    """Move the pending switch on as far as it can go now; called after each of its embed batches.

    Runs under the pending encoder's training lock, so a switch found `training` is one whose trainer
    died: it is trained again."""
    switch = encoder_state.pending_switch(session)
    if switch is None:
        return {"status": "idle"}
    if switch.status in ("embedding", "training"):
        done, total = encoder_state.coverage(session, switch.encoder)
        if total and done / total < settings.encoder_switch_coverage:
            return {"status": switch.status, "embedded": done, "total": total}
        if switch.status == "embedding":
            encoder_state.move(switch, "training")
            session.commit()  # the Models page shows that it trains
        judge(session, settings, switch)
    if switch.status == "comparing" and switch.comparison.get("verdict") == "accepted":
        complete(session, settings, switch)
    return {"status": switch.status, "switch_id": switch.id, "reason": switch.reason}


def judge(session: Session, settings: TrainerSettings, switch: EncoderSwitch) -> None:
    """Train the new encoder's model and decide; a rejected switch finishes here, its model kept aside."""
    old_version = data.current_version(session, switch.previous)
    common = memes_of_both(session, switch.previous, switch.encoder)
    new_td = training_data(session, settings, switch.encoder, common)
    new_fit = None if new_td is None else jobs.fit_data(new_td)
    version = None
    if new_fit is not None and new_td is not None:
        version = jobs.save_version(session, settings, switch.encoder, new_fit, new_td.ratings)
    if not still(session, switch, "training"):
        return  # cancelled meanwhile: the model stays aside, the old encoder serves on
    switch.model_version_id = None if version is None else version.id
    encoder_state.move(switch, "comparing")
    if old_version is None:
        switch.comparison = {"verdict": "accepted", "why": f"{switch.previous} had no model to compare with"}
        session.commit()
        return
    old_td = None if new_td is None else same_pairs(session, settings, switch.previous, new_td)
    if new_fit is None or old_td is None:
        reject(session, switch, {}, "no ratings over memes both encoders have embedded: nothing to compare on")
        return
    old_fit = jobs.fit_data(old_td)
    comparison = {
        "new": {key: new_fit.metrics.get(key) for key in COMPARED},
        "old": {key: old_fit.metrics.get(key) for key in COMPARED},
    }
    verdict, why = verdict_of(comparison["new"], comparison["old"], settings.encoder_switch_min_gain)
    if verdict == "rejected":
        reject(session, switch, comparison, why)
        return
    switch.comparison = comparison | {"verdict": verdict, "why": why}
    session.commit()


def held_out_rows(metrics: dict[str, Any]) -> str:
    """What the held-out loss was measured on: pairs and keep/discard decisions ('' for nothing)."""
    pairs, decisions = metrics.get("n_val_pairs") or 0, metrics.get("n_val_absolute") or 0
    parts = [f"{pairs} pairs"] * bool(pairs) + [f"{decisions} decisions"] * bool(decisions)
    return " and ".join(parts)


def verdict_of(new: dict[str, Any], old: dict[str, Any], min_gain: float = 0.0) -> tuple[str, str]:
    """Accepted when the new encoder's held-out log-loss is at least `min_gain` below the old one's on the
    same pairs (0: no worse)."""
    held_out = held_out_rows(new)
    if not held_out or new.get("val_loss") is None or old.get("val_loss") is None:
        return "rejected", "too few held-out ratings to compare the encoders on; rate more and switch again"
    figures = f"held-out log-loss {new['val_loss']:.4f} vs {old['val_loss']:.4f} on {held_out}"
    wanted = f", {min_gain:+.4f} wanted (ENCODER_SWITCH_MIN_GAIN)" if min_gain else ""
    if new["val_loss"] <= old["val_loss"] - min_gain:
        how = "at least as good" if new["val_loss"] <= old["val_loss"] else "worse, within the margin allowed"
        return "accepted", f"{how}: {figures}{wanted}"
    if new["val_loss"] > old["val_loss"]:
        return "rejected", f"worse than the current encoder: {figures}{wanted}"
    return "rejected", f"not better by the gain wanted: {figures}{wanted}"


def reject(session: Session, switch: EncoderSwitch, comparison: dict[str, Any], why: str) -> None:
    switch.comparison = comparison | {"verdict": "rejected", "why": why}
    encoder_state.move(switch, "rejected", why)
    session.commit()


def complete(session: Session, settings: TrainerSettings, switch: EncoderSwitch) -> None:
    """Make the new encoder active and its model current, with every meme scored, in one commit; waits
    (staying `comparing`) while a meme the old model scored has no new vector yet, so no score goes away."""
    old_version = data.current_version(session, switch.previous)
    waiting = 0 if old_version is None else scored_without_vector(session, old_version.id, switch.encoder)
    if waiting:
        switch.comparison = dict(switch.comparison, waiting_for=waiting)
        session.commit()
        return
    if not still(session, switch, "comparing"):
        return
    version = None if switch.model_version_id is None else session.get(ModelVersion, switch.model_version_id)
    if version is not None:
        publish.make_current(session, version)
        jobs.publish_version(session, settings, version)
    encoder_state.move(switch, "done")
    session.commit()
    encoder_state.forget_serving_encoder()


def still(session: Session, switch: EncoderSwitch, status: str) -> bool:
    """Read the switch again, locked where the database can: a cancel from the page may have come first."""
    session.refresh(switch, with_for_update=True)
    return switch.status == status


def training_data(
    session: Session, settings: TrainerSettings, encoder: str, meme_ids: list[int]
) -> jobs.TrainingData | None:
    """`encoder`'s vectors of `meme_ids` and every rating over them; None when nothing can be learnt."""
    vectors = data.load_vectors(session, encoder, meme_ids)
    if len(vectors.ids) < 2:
        return None
    config = settings.ensemble_config(vectors.matrix.shape[1])
    ratings = data.load_pairs(session, vectors, config)
    return None if len(ratings.pairs) == 0 else jobs.TrainingData(vectors, config, ratings)


def same_pairs(
    session: Session, settings: TrainerSettings, encoder: str, other: jobs.TrainingData
) -> jobs.TrainingData | None:
    """`encoder`'s vectors of the memes `other` was read for, with `other`'s very pairs: ratings that
    arrive meanwhile must not give one side pairs the other never saw."""
    vectors = data.load_vectors(session, encoder, [int(i) for i in other.vectors.ids])
    if not np.array_equal(vectors.ids, other.vectors.ids):
        return None  # a vector of another dimension was left out: not the same memes
    return jobs.TrainingData(vectors, settings.ensemble_config(vectors.matrix.shape[1]), other.ratings)


def memes_of_both(session: Session, first: str, second: str) -> list[int]:
    """Memes with a vector of each encoder: the same memes, so the same rated pairs, for both sides."""
    query = (
        select(Embedding.meme_id)
        .where(Embedding.encoder.in_((first, second)))
        .group_by(Embedding.meme_id)
        .having(func.count() == 2)
    )
    rows = session.scalars(query)
    return sorted(int(meme_id) for meme_id in rows)


def scored_without_vector(session: Session, version_id: int, encoder: str) -> int:
    """Memes `version` scored that have no vector of `encoder` yet and may still get one: a meme the
    embedder marked failed never will, and waiting for it would hold the switch at `comparing` for good."""
    has_vector = exists().where(Embedding.meme_id == Score.meme_id, Embedding.encoder == encoder)
    failed = exists().where(Meme.id == Score.meme_id, Meme.status == "failed")
    query = select(func.count(func.distinct(Score.meme_id))).where(
        Score.model_version_id == version_id, ~has_vector, ~failed
    )
    return int(session.scalar(query) or 0)
