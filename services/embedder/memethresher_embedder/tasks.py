"""Celery wiring for the `embed` queue: thin tasks that take ids and call plain functions.

Start a worker with `python -m celery -A memethresher_embedder.tasks worker -Q embed --pool threads
--concurrency 8`: the eight task threads share one engine (see engine.py), so the model draws its
batches from eight tasks at once and never waits for the next task to be fetched or written.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task
from celery.signals import worker_ready
from memethresher_shared import encoder_state, encoder_switch, tasks
from memethresher_shared.celery_app import app, send
from memethresher_shared.coordination import redis_client, send_once
from memethresher_shared.db import session_scope
from memethresher_shared.observability import (
    install_worker_observability,
    record_image_failed,
    record_images_embedded,
)
from memethresher_shared.store import get_store

from memethresher_embedder.batches import chunked, embed_memes, memes_missing_vectors
from memethresher_embedder.encoders import get_encoder
from memethresher_embedder.engine import get_engine
from memethresher_embedder.pipeline import failure_label
from memethresher_embedder.prompts import embed_prompts_for, prompts_missing_vectors
from memethresher_embedder.registry import parse_encoder_id
from memethresher_embedder.settings import get_embedder_settings

log = logging.getLogger(__name__)
install_worker_observability(app, "embedder")

# Set while a sweep for an encoder is recent, so workers starting together enqueue one sweep, not one each.
SWEEP_REQUESTED = "memethresher:embed-missing-requested:{encoder}"
SWEEP_COALESCE_S = 60


@app.task(name=tasks.EMBED_BATCH, bind=True, acks_late=True, reject_on_worker_lost=True)
def embed_batch(self: Task, meme_ids: list[int], encoder: str | None = None) -> dict[str, Any]:
    """Embed a batch of memes with `encoder` (default: the active one), then have them scored."""
    settings = get_embedder_settings()
    with session_scope() as session:
        serving = encoder_state.encoders_to_embed(session, settings.embedder)
    if encoder is None and len(serving) > 1:  # new memes during a switch: the pending encoder needs them too
        send(tasks.EMBED_BATCH, meme_ids, serving[1])
    encoder_id = encoder or serving[0]
    report = embed_memes(meme_ids, get_engine(encoder_id), encoder_id, get_store())
    for meme_id, reason in report.failed.items():
        log.warning("meme %d not embedded: %s", meme_id, reason)
        record_image_failed("embed", failure_label(reason))
    record_images_embedded(len(report.embedded), encoder_id)
    # Scores come from models trained on the active encoder; a pending one's vectors move its switch on.
    if report.embedded and encoder_id == serving[0]:
        send(tasks.SCORE_MEMES, report.embedded)
    elif encoder_id in serving:
        encoder_switch.request_check(redis_client())
    return {**report.summary(), "worker": self.request.hostname}


@app.task(name=tasks.EMBED_MISSING, acks_late=True, reject_on_worker_lost=True)
def embed_missing() -> dict[str, Any]:
    """Enqueue batches, newest memes first, for every meme without a vector of the active encoder or of
    the pending one of a switch."""
    settings = get_embedder_settings()
    with session_scope() as session:
        encoders = encoder_state.encoders_to_embed(session, settings.embedder)
        missing = {encoder: memes_missing_vectors(session, encoder) for encoder in encoders}
        # Prompts written under another encoder, or while no worker ran, get their vectors too.
        prompts_waiting = any(
            parse_encoder_id(encoder).has_text_tower and prompts_missing_vectors(session, encoder)
            for encoder in encoders
        )
    if prompts_waiting:
        send(tasks.EMBED_PROMPTS)
    batches = {encoder: chunked(ids, settings.embed_batch_size) for encoder, ids in missing.items()}
    for encoder, chunks in batches.items():
        for batch in chunks:
            send(tasks.EMBED_BATCH, batch, encoder)
    active = encoders[0]
    summary: dict[str, Any] = {"encoder": active, "memes": len(missing[active]), "batches": len(batches[active])}
    if len(encoders) > 1:  # a switch under way
        summary["pending"] = {"encoder": encoders[1], "memes": len(missing[encoders[1]])}
    return summary


@app.task(name=tasks.EMBED_PROMPTS, acks_late=True, reject_on_worker_lost=True)
def embed_prompts() -> dict[str, Any]:
    """Text vectors for the taste prompts that lack one, for the active encoder and a pending one that
    has a text tower; then the trainer rescores with the prompts (while no model is trained from ratings)."""
    settings = get_embedder_settings()
    with session_scope() as session:
        encoders = encoder_state.encoders_to_embed(session, settings.embedder)
    embedded = embed_prompts_for(encoders, get_encoder)
    if encoders[0] in embedded:
        send(tasks.PROMPT_PRIOR, encoders[0])
    return {"encoder": encoders[0], "embedded": embedded}


def request_sweep(client: redis.Redis, encoder: str) -> bool:
    """Enqueue `embed_missing` unless a sweep for `encoder` was enqueued in the last minute."""
    return send_once(client, SWEEP_REQUESTED.format(encoder=encoder), SWEEP_COALESCE_S, tasks.EMBED_MISSING)


@worker_ready.connect
def sweep_on_start(**_: Any) -> None:
    """A starting worker (perhaps after the encoder setting changed) has every meme without a vector embedded."""
    encoder = get_embedder_settings().embedder
    if request_sweep(redis_client(), encoder):
        log.info("enqueued a sweep for memes without a %s vector", encoder)
