"""What the trainer and scorer tasks do, as plain functions over a session (no Celery here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from memethresher_shared import encoder_state
from memethresher_shared.models import ModelVersion, Score
from memethresher_shared.settings import OVERALL
from sqlalchemy import select
from sqlalchemy.orm import Session

from memethresher_trainer import artifacts, data, publish
from memethresher_trainer.acquire import propose
from memethresher_trainer.curate import pick_for_curation, score_threshold
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.score import summarize
from memethresher_trainer.settings import TrainerSettings
from memethresher_trainer.stopping import NEXT, model_stopping_metrics, twin_config
from memethresher_trainer.train import FitResult, Pairs, fit

log = logging.getLogger(__name__)


def artifact_folder(settings: TrainerSettings, version_id: int) -> Path:
    return Path(settings.storage) / "models" / str(version_id)


@dataclass
class TrainingData:
    vectors: data.Vectors
    config: EnsembleConfig
    ratings: data.RatingSnapshot

    @property
    def pairs(self) -> Pairs:
        return self.ratings.pairs


def load_training_data(
    session: Session, settings: TrainerSettings, encoder: str, overrides: dict[str, Any] | None = None
) -> TrainingData | None:
    """Vectors of `encoder` and every usable rating, keep and discard; None when there is nothing to
    learn from yet."""
    vectors = data.load_vectors(session, encoder)
    if len(vectors.ids) < 2:
        return None
    config = settings.ensemble_config(vectors.matrix.shape[1], **(overrides or {}))
    ratings = data.load_pairs(session, vectors, config)
    if len(ratings.pairs) == 0:
        return None
    return TrainingData(vectors, config, ratings)


def fit_data(td: TrainingData, config: EnsembleConfig | None = None) -> FitResult:
    """A fresh fit on everything rated so far, with `config` instead of the data's recipe if given.

    No warm start from the current version: that version was refit on the validation pairs too, so it
    always looked better there and held every later round back (benchmarks/RESULTS.md, learning, tenth
    round: warm won 21-22 of 23 rounds and ended 0.021-0.072 AUROC behind fresh fits)."""
    return fit(td.vectors.matrix, td.pairs, config or td.config, [int(i) for i in td.vectors.ids])


def spread_twin(settings: TrainerSettings, td: TrainingData) -> FitResult | None:
    """A bootstrapped twin of the ensemble on the same answers, only for the stopping signal: members that
    all see every answer agree far more than the model is sure (see stopping.py); None when the ensemble
    is bootstrapped itself or the twin is switched off."""
    config = twin_config(td.config)
    return None if config is None or not settings.stopping_spread_twin else fit_data(td, config)


def save_version(
    session: Session, settings: TrainerSettings, encoder: str, result: FitResult, ratings: data.RatingSnapshot
) -> ModelVersion:
    """A model version row, its loss curve and its artifact folder; not yet current.

    Its `n_ratings` counts the rating events up to the snapshot (what the API counts for a retrain);
    what it could learn from are `metrics["pairs"]` rated pairs and `metrics["decisions"]` keeps and
    discards (`library_keeps` more from the library folder)."""
    metrics = dict(result.metrics, last_rating_id=ratings.last_rating, **learnt_from(ratings))
    config = result.model.config.to_dict()
    version = publish.add_version(session, encoder, config, metrics, ratings.n_ratings)
    folder = artifact_folder(settings, version.id)
    artifacts.save(result.model, folder, metrics, extra={"encoder": encoder, "model_version_id": version.id})
    version.artifact = str(folder)
    publish.add_curve(session, version.id, result.curve)
    session.flush()
    return version


def already_trained(session: Session, encoder: str, ratings: data.RatingSnapshot) -> ModelVersion | None:
    """The newest version if it was trained on exactly these ratings and pairs (a redelivered task)."""
    newest = data.newest_version(session, encoder)
    if newest is None or newest.n_ratings != ratings.n_ratings:
        return None
    metrics = newest.metrics
    same = all(metrics.get(key, 0) == count for key, count in learnt_from(ratings).items())
    if metrics.get("last_rating_id") == ratings.last_rating and same:
        return newest
    return None


def learnt_from(ratings: data.RatingSnapshot) -> dict[str, int]:
    """How many rated pairs, keeps and discards, and library memes a version learnt from."""
    return {"pairs": ratings.rated_pairs, "decisions": ratings.decisions, "library_keeps": ratings.library}


def earlier_scores(session: Session, encoder: str, vectors: data.Vectors, n_ratings: int) -> np.ndarray | None:
    """Overall scores of `vectors` (NaN where not scored) by the newest scored version trained on at most
    `n_ratings` rating events: the decisions to compare with for the change over the last ratings. The
    prompt prior is no such version: its decisions come from the prompts, not from fewer ratings."""
    scored = select(Score.model_version_id).where(Score.model_version_id == ModelVersion.id).exists()
    older = select(ModelVersion).where(ModelVersion.encoder == encoder, ModelVersion.n_ratings <= n_ratings, scored)
    candidates = session.execute(older.order_by(ModelVersion.n_ratings.desc(), ModelVersion.id.desc())).scalars()
    version = next((v.id for v in candidates if not v.is_prompt_prior), None)
    if version is None:
        return None
    query = select(Score.meme_id, Score.mean).where(Score.model_version_id == version, Score.axis == OVERALL)
    rows = session.execute(query)
    out, index = np.full(len(vectors.ids), np.nan), vectors.index()
    for meme_id, mean in rows:
        if meme_id in index:
            out[index[meme_id]] = mean
    return out


def train(session: Session, settings: TrainerSettings, encoder: str) -> dict[str, Any]:
    """Train, publish a new current version, score everything, acquire a batch, refill curation.

    While a version is pinned, the new one is only recorded (the Models page shows how it does): the
    pinned one stays current and chooses the next acquisition batch."""
    td = load_training_data(session, settings, encoder)
    if td is None:
        return {"status": "skipped", "reason": "no ratings, keeps or discards over embedded memes yet"}
    done = already_trained(session, encoder, td.ratings)
    if done is not None:
        return {
            "status": "skipped",
            "reason": "already trained on these ratings",
            "model_version_id": done.id,
        }
    result = fit_data(td)
    top = settings.curation_top_fraction_of(OVERALL)
    previous = earlier_scores(session, encoder, td.vectors, td.ratings.n_ratings - NEXT)
    twin = spread_twin(settings, td)
    if twin is not None:  # a retrain's cost is both fits
        result.metrics["twin_train_seconds"] = twin.metrics["train_seconds"]
    twin_model = None if twin is None else twin.model
    result.metrics["stopping"] = model_stopping_metrics(result.model, td.vectors.matrix, len(td.pairs), top, previous,
                                                        twin_model)  # fmt: skip
    version = save_version(session, settings, encoder, result, td.ratings)
    outcome = {"status": "trained", "model_version_id": version.id, "metrics": version.metrics}
    pinned = data.pinned_version(session, encoder)
    if pinned is not None:
        outcome |= {"current_version_id": pinned.id, "pinned": True}
    current = pinned or version
    publish.make_current(session, current)
    return outcome | publish_version(session, settings, current, td.vectors)


def version_axes(version: ModelVersion) -> tuple[str, ...]:
    """The axes a version has heads for, in head order (a version from before the axes: overall)."""
    return tuple(version.config.get("axes") or (OVERALL,))


def score(
    session: Session, settings: TrainerSettings, version: ModelVersion, vectors: data.Vectors
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Store `version`'s scores of `vectors` on each of its axes; returns per-member scores (N, M, A)
    and each axis' scores (N,)."""
    member = artifacts.load_wide(Path(version.artifact)).member_scores(vectors.matrix)
    means: dict[str, np.ndarray] = {}
    for head, axis in enumerate(version_axes(version)):
        mean, spread = summarize(member[:, :, head], settings.score_summary)
        publish.upsert_scores(session, version.id, axis, vectors.ids, mean, spread)
        means[axis] = mean
    return member, means


def acquire(
    session: Session, settings: TrainerSettings, version: ModelVersion, vectors: data.Vectors, member: np.ndarray
) -> dict[str, tuple[int | None, int]]:
    """One acquisition batch per axis, chosen with that axis' head: {axis: (batch id, pairs)}.

    A pair one axis chose is not chosen again by the next: the rating page asks every axis of a pair."""
    exclude = data.rated_pairs(session, vectors)
    batches = {}
    for head, axis in enumerate(version_axes(version)):
        proposal = propose(
            member[:, :, head],
            settings.acquisition_batch_size,
            settings.acquisition_strategy,
            exclude=exclude,
            max_per_meme=settings.acquisition_max_per_meme,
            random_fraction=settings.acquisition_random_fraction,
            seed=version.id + head,
            vectors=vectors.matrix,
            keep_fraction=settings.curation_top_fraction_of(axis),
        )
        batches[axis] = (publish.publish_batch(session, version.id, proposal, vectors.ids, axis), len(proposal.a))
        exclude = (np.concatenate([exclude[0], proposal.a]), np.concatenate([exclude[1], proposal.b]))
    return batches


def publish_version(
    session: Session, settings: TrainerSettings, version: ModelVersion, vectors: data.Vectors | None = None
) -> dict[str, Any]:
    """For a version that just became current: score every meme on every axis, a new acquisition batch
    and curation per axis."""
    vectors = vectors if vectors is not None else data.load_vectors(session, version.encoder)
    member, means = score(session, settings, version, vectors)
    batches = acquire(session, settings, version, vectors, member)
    queued = {axis: curate(session, settings, version, vectors, mean, mean, axis) for axis, mean in means.items()}
    return {
        "scored": len(vectors.ids),
        "acquisition_batch_id": batches[version_axes(version)[0]][0],
        "pairs": sum(pairs for _, pairs in batches.values()),
        "queued": sum(queued.values()),
        "by_axis": {
            axis: {"acquisition_batch_id": batch_id, "pairs": pairs, "queued": queued[axis]}
            for axis, (batch_id, pairs) in batches.items()
        },
    }


def curate(
    session: Session,
    settings: TrainerSettings,
    version: ModelVersion,
    vectors: data.Vectors,
    mean: np.ndarray,
    all_scores: np.ndarray,
    axis: str = OVERALL,
) -> int:
    """Queue the memes among `vectors` whose `mean` on `axis` reaches that axis' top fraction of
    `all_scores`; returns how many. A meme already queued, by any axis, is not queued again."""
    queued = data.queued_memes(session)
    fresh = np.array([int(m) not in queued for m in vectors.ids], dtype=bool)
    if not fresh.any():
        return 0
    threshold = score_threshold(all_scores, settings.curation_top_fraction_of(axis))
    blockers = data.curation_blockers(session, version.encoder)
    picked = pick_for_curation(mean[fresh], vectors.matrix[fresh], threshold, blockers, settings.near_duplicate_cosine)
    ids = vectors.ids[fresh][picked]
    scores = [float(s) for s in mean[fresh][picked]]
    publish.queue_for_curation(session, version.id, [int(i) for i in ids], scores, axis)
    session.flush()  # the next axis sees these as queued and as blockers
    return len(ids)


def score_memes(session: Session, settings: TrainerSettings, meme_ids: list[int] | None) -> dict[str, Any]:
    """Score memes (all when `meme_ids` is None) with the active encoder's current version, then curate them."""
    encoder = encoder_state.active_encoder(session, settings.embedder)
    version = data.current_version(session, encoder)
    if version is None:
        return {"status": "skipped", "reason": f"no model for encoder {encoder} yet"}
    vectors = data.load_vectors(session, version.encoder, meme_ids)
    if len(vectors.ids) == 0:
        return {"status": "skipped", "reason": "no vectors for these memes", "model_version_id": version.id}
    _, means = score(session, settings, version, vectors)
    session.flush()
    queued = sum(
        curate(session, settings, version, vectors, mean, data.version_scores(session, version.id, axis), axis)
        for axis, mean in means.items()
    )
    return {"status": "scored", "model_version_id": version.id, "scored": len(vectors.ids), "queued": queued}
