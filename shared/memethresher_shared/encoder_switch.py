"""Starting, cancelling and reporting an encoder switch: what the API and the CLI both do.

Starting one puts the new encoder's embed batches (newest memes first) on the embed queue itself, so
embedders scaled to zero are woken by the backlog; the trainer completes or rejects it (trainer.switch)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from memethresher_shared import encoder_state, tasks
from memethresher_shared.celery_app import send
from memethresher_shared.coordination import redis_client, send_once
from memethresher_shared.encoder_registry import known_encoders, parse_encoder_id
from memethresher_shared.models import EncoderSwitch, utcnow
from memethresher_shared.settings import Settings

CHECK_QUEUED = "memethresher:encoder-switch-check-queued"


def start(session: Session, encoder: str, settings: Settings, queue: bool = True) -> tuple[EncoderSwitch, int]:
    """Begin a switch to `encoder` and queue its embedding; returns the switch and the batches queued.

    Committed before the batches go out, so the embedders that take them find the switch pending.
    Without `queue` (no broker yet) the embedders' sweep as they start finds the pending encoder."""
    missing = encoder_state.missing_vectors(session, encoder)
    _, total = encoder_state.coverage(session, encoder)
    switch = encoder_state.begin_switch(session, encoder, settings.embedder, total)
    session.commit()
    encoder_state.forget_serving_encoder()
    if not queue:
        return switch, 0
    size = settings.embed_batch_size
    batches = [missing[at : at + size] for at in range(0, len(missing), size)]
    for batch in batches:
        send(tasks.EMBED_BATCH, batch, encoder)
    if not batches:  # every meme has its vector already: straight to training
        request_check(redis_client())
    return switch, len(batches)


def request_check(client: redis.Redis) -> bool:
    """Queue the trainer's look at the pending switch unless one is queued already (it clears the flag
    as it starts, so a batch that lands while it runs queues the next look)."""
    return send_once(client, CHECK_QUEUED, 3600, tasks.SWITCH_CHECK)


def clear_check_request(client: redis.Redis) -> None:
    client.delete(CHECK_QUEUED)


def cancel(session: Session, reason: str = "cancelled") -> EncoderSwitch:
    """Back to the active encoder; the new one's vectors and any model of it stay for a later switch."""
    switch = encoder_state.cancel(session, reason)
    session.commit()
    encoder_state.forget_serving_encoder()
    return switch


def describe(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """The registry, the active encoder, the pending switch with its progress, and the last finished one."""
    pending = encoder_state.pending_switch(session)
    last = session.scalar(
        select(EncoderSwitch)
        .where(EncoderSwitch.status.in_(encoder_state.FINISHED))
        .order_by(EncoderSwitch.id.desc())
        .limit(1)
    )
    return {
        "encoders": [_registry_entry(encoder_id) for encoder_id in known_encoders()],
        "active": encoder_state.active_encoder(session, settings.embedder),
        "pending": None if pending is None else switch_progress(session, pending, now or utcnow()),
        "last": None if last is None else _switch_fields(last),
        "coverage_threshold": settings.encoder_switch_coverage,
    }


def switch_progress(session: Session, switch: EncoderSwitch, now: datetime) -> dict[str, Any]:
    done, total = encoder_state.coverage(session, switch.encoder)
    started = _aware(switch.started_at)
    elapsed = max((now - started).total_seconds(), 0.0)
    fresh = encoder_state.embedded_since(session, switch.encoder, started)
    progress = {"embedded": done, "total": total, "eta_s": encoder_state.eta_s(fresh, elapsed, total - done)}
    return _switch_fields(switch) | progress


def _switch_fields(switch: EncoderSwitch) -> dict[str, Any]:
    return {
        "id": switch.id,
        "encoder": switch.encoder,
        "previous": switch.previous,
        "status": switch.status,
        "reason": switch.reason,
        "comparison": switch.comparison,
        "model_version_id": switch.model_version_id,
        "started_at": _aware(switch.started_at).isoformat(),
        "finished_at": None if switch.finished_at is None else _aware(switch.finished_at).isoformat(),
    }


def _registry_entry(encoder_id: str) -> dict[str, str]:
    spec = parse_encoder_id(encoder_id)
    return {"id": spec.encoder_id, "family": spec.family, "description": spec.description}


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)
