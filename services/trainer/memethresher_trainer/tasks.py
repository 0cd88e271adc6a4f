"""Celery wiring of the trainer (queue `train`) and scorer (queue `score`): thin tasks over `jobs`.

Start a worker with `python -m celery -A memethresher_trainer.tasks worker -Q train,score`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from celery import Task, chord, group
from memethresher_shared import coordination, encoder_state, encoder_switch
from memethresher_shared import tasks as names
from memethresher_shared.celery_app import app
from memethresher_shared.coordination import LockHeld
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion
from memethresher_shared.observability import install_worker_observability, record_training_run

from memethresher_trainer import data, jobs, prior_version, publish, switch
from memethresher_trainer.settings import get_trainer_settings

install_worker_observability(app, "trainer")

# Names beyond the shared ones; the `trainer.` prefix routes them to the train queue.
SWEEP_FIT = "trainer.sweep_fit"  # (encoder: str, overrides: dict) -> {"model_version_id", "val_loss"}
SWEEP_PICK = "trainer.sweep_pick"  # (results: list[dict], encoder: str) — chord callback

DEFAULT_GRID: list[dict[str, Any]] = [
    {"hidden": 32},
    {"hidden": 64},
    {"hidden": 128},
    {"hidden": 64, "dropout": 0.3},
    {"hidden": 64, "depth": 2},
]


def training_slot(encoder: str) -> AbstractContextManager[object]:
    """The one-training-per-encoder lock, renewed while held and released even when the work fails."""
    return coordination.held_training_lock(coordination.redis_client(), encoder)


def active_encoder(default: str) -> str:
    with session_scope() as session:
        return encoder_state.active_encoder(session, default)


@app.task(name=names.TRAIN, bind=True, max_retries=720)
def train(self: Task, encoder: str | None = None) -> dict[str, Any]:
    settings = get_trainer_settings()
    encoder = encoder or active_encoder(settings.embedder)
    # Cleared first, so ratings that arrive while this runs queue the next training.
    coordination.clear_retrain_request(coordination.redis_client(), encoder)
    try:
        with training_slot(encoder), session_scope() as session:
            outcome = jobs.train(session, settings, encoder)
    except LockHeld:
        raise self.retry(countdown=settings.train_retry_s) from None
    except Exception:
        record_training_run(encoder, "failed")
        raise
    published = outcome["status"] == "trained" and not outcome.get("pinned")
    val_loss = outcome.get("metrics", {}).get("val_loss") if published else None
    record_training_run(encoder, "published" if published else "skipped", val_loss)
    return outcome


@app.task(name=names.SWITCH_CHECK, bind=True, max_retries=720)
def advance_switch(self: Task) -> dict[str, Any]:
    """The pending encoder switch, moved on under its encoder's training lock (one look at a time)."""
    settings = get_trainer_settings()
    encoder_switch.clear_check_request(coordination.redis_client())
    with session_scope() as session:
        pending = encoder_state.pending_switch(session)
        if pending is None:
            return {"status": "idle"}
        encoder = pending.encoder
    try:
        with training_slot(encoder), session_scope() as session:
            return switch.advance(session, settings)
    except LockHeld:
        raise self.retry(countdown=settings.train_retry_s) from None


@app.task(name=names.PROMPT_PRIOR, bind=True, max_retries=720)
def prompt_prior(self: Task, encoder: str | None = None) -> dict[str, Any]:
    """Score with the taste prompts while no model is trained from ratings, under the training lock: a
    training publishing meanwhile must not be replaced by the prior."""
    settings = get_trainer_settings()
    encoder = encoder or active_encoder(settings.embedder)
    try:
        with training_slot(encoder), session_scope() as session:
            return prior_version.publish_prior(session, settings, encoder)
    except LockHeld:
        raise self.retry(countdown=settings.train_retry_s) from None


@app.task(name=names.SCORE_MEMES)
def score_memes(meme_ids: list[int]) -> dict[str, Any]:
    with session_scope() as session:
        return jobs.score_memes(session, get_trainer_settings(), [int(i) for i in meme_ids])


@app.task(name=names.SCORE_ALL)
def score_all() -> dict[str, Any]:
    with session_scope() as session:
        return jobs.score_memes(session, get_trainer_settings(), None)


@app.task(name=names.SWEEP)
def sweep(encoder: str | None = None, grid: list[dict[str, Any]] | None = None) -> str:
    """Fan the grid out over trainer workers; the best validation loss becomes current."""
    encoder = encoder or active_encoder(get_trainer_settings().embedder)
    header = group(sweep_fit.s(encoder, overrides) for overrides in (grid or DEFAULT_GRID))
    return str(chord(header)(sweep_pick.s(encoder)).id)


@app.task(name=SWEEP_FIT)
def sweep_fit(encoder: str, overrides: dict[str, Any]) -> dict[str, Any]:
    settings = get_trainer_settings()
    with session_scope() as session:
        td = jobs.load_training_data(session, settings, encoder, overrides)
        if td is None:
            return {"model_version_id": None, "val_loss": None, "overrides": overrides}
        result = jobs.fit_data(td)
        version = jobs.save_version(session, settings, encoder, result, td.ratings)
        version.metrics = dict(version.metrics, sweep=overrides)
        return {
            "model_version_id": version.id,
            "val_loss": result.metrics["val_loss"],
            "overrides": overrides,
        }


def best_of(results: list[dict[str, Any]]) -> int | None:
    """The version with the lowest validation loss; one without a loss only when none has one."""
    usable = [r for r in results if r.get("model_version_id") is not None]
    if not usable:
        return None
    usable.sort(key=lambda r: (r["val_loss"] is None, r["val_loss"] or 0.0))
    return int(usable[0]["model_version_id"])


@app.task(name=SWEEP_PICK, bind=True, max_retries=720)
def sweep_pick(self: Task, results: list[dict[str, Any]], encoder: str) -> dict[str, Any]:
    best = best_of(results)
    if best is None:
        return {"status": "skipped", "reason": "no ratings to sweep over"}
    with session_scope() as session:
        pinned = data.pinned_version(session, encoder)
        if pinned is not None:  # the candidates stay on the Models page; the pinned version stays current
            return {"status": "recorded", "reason": f"version {pinned.id} is pinned", "candidates": results}
    try:
        return _make_current(best, encoder) | {"candidates": results}
    except LockHeld:
        raise self.retry(countdown=get_trainer_settings().train_retry_s) from None


@app.task(name=names.MAKE_CURRENT, bind=True, max_retries=720)
def make_current(self: Task, model_version_id: int) -> dict[str, Any]:
    with session_scope() as session:
        version = session.get(ModelVersion, model_version_id)
        if version is None:
            return {"status": "skipped", "reason": f"no model version {model_version_id}"}
        encoder = version.encoder
    try:
        return _make_current(model_version_id, encoder)
    except LockHeld:
        raise self.retry(countdown=get_trainer_settings().train_retry_s) from None


def _make_current(model_version_id: int, encoder: str) -> dict[str, Any]:
    settings = get_trainer_settings()
    with training_slot(encoder), session_scope() as session:
        version = session.get(ModelVersion, model_version_id)
        if version is None:
            return {"status": "skipped", "reason": f"no model version {model_version_id}"}
        publish.make_current(session, version, chosen=True)
        summary = jobs.publish_version(session, settings, version)
        return {"status": "current", "model_version_id": version.id, **summary}
