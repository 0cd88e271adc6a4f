"""JSON endpoints of the dashboard, sources and models pages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Response
from memethresher_shared import coordination, sources, tasks
from memethresher_shared.celery_app import send
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import Meme, ModelVersion, Source
from memethresher_shared.source_edits import edit_source
from sqlalchemy import select

from memethresher_api import broker, model_versions, queries
from memethresher_api.deps import IdPath, SessionDep, SettingsDep, field_error
from memethresher_api.schemas import ModelVersionOut, QueuedOut, SourceIn, SourceOut, SourcePatch
from memethresher_api.source_failures import retry_now, source_failures

router = APIRouter(prefix="/api", tags=["admin"])
log = logging.getLogger(__name__)


def enqueue(what: str, action: Any) -> QueuedOut:
    """Run `action` (which enqueues work); a broker problem is reported, not raised as a 5xx."""
    try:
        result = action()
    except Exception as error:
        log.warning("could not queue %s", what, exc_info=True)
        return QueuedOut(queued=False, detail=f"could not queue {what}: broker unreachable ({type(error).__name__})")
    if result is False:
        return QueuedOut(queued=False, detail=f"{what} is already queued")
    return QueuedOut(queued=True, detail=f"{what} queued")


@router.get("/dashboard", response_model=dict[str, Any])
def dashboard(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Counts, queue depths from the broker, and live workers."""
    reachable = broker.broker_reachable(settings.broker_url)
    return {
        "stats": queries.stats(session, serving_encoder(settings.embedder)).model_dump(),
        "broker_reachable": reachable,
        "queues": broker.queue_depths(settings.broker_url) if reachable else None,
        "workers": broker.live_workers(settings.worker_ping_timeout_s) if reachable else None,
        "flower_port": settings.flower_port,
    }


@router.get("/memes/failed", response_model=list[dict[str, Any]])
def failed_memes(session: SessionDep, limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    rows = session.scalars(select(Meme).where(Meme.status == "failed").order_by(Meme.id.desc()).limit(limit))
    return [{"id": m.id, "title": m.title, "reason": m.failure_reason} for m in rows]


@router.post("/memes/{meme_id}/retry", response_model=QueuedOut)
def retry_meme(meme_id: IdPath, session: SessionDep, settings: SettingsDep) -> QueuedOut:
    """Reset a failed meme to new and queue it for embedding again."""
    meme = session.get(Meme, meme_id)
    if meme is None:
        field_error("path", "meme_id", f"no meme {meme_id}", status=404)
    meme.status, meme.failure_reason = "new", None
    session.commit()
    return enqueue(f"embedding of meme {meme_id}", lambda: send(tasks.EMBED_BATCH, [meme_id]))


def _source_out(source: Source) -> SourceOut:
    return SourceOut.model_validate(source, from_attributes=True)


@router.get("/sources", response_model=list[SourceOut])
def list_sources(session: SessionDep) -> list[SourceOut]:
    return [_source_out(s) for s in session.scalars(select(Source).order_by(Source.id))]


@router.post("/sources", response_model=SourceOut, status_code=201)
def add_source(body: SourceIn, session: SessionDep, response: Response) -> SourceOut:
    """Add a subreddit (`r/a+b`, `r/all`), multireddit (`user/NAME/m/MULTI`), user, front page or folder source.
    The same listing (kind, target, sort, time window) added again answers 200 with the first, `already_there`."""
    try:
        existed = sources.find_source(session, body.kind, body.target, **body.options) is not None
        source = sources.add_source(session, body.kind, body.target, **body.options)
    except sources.SourceOptionError as error:
        field_error("body", "options", str(error))
    except ValueError as error:
        field_error("body", "target", str(error))
    except TypeError as error:
        field_error("body", "options", str(error))
    session.flush()
    if existed:
        response.status_code = 200
    return _source_out(source).model_copy(update={"already_there": existed})


@router.patch("/sources/{source_id}", response_model=SourceOut)
def patch_source(source_id: IdPath, body: SourcePatch, session: SessionDep) -> SourceOut:
    """Enable or disable a source, or change its sort, time window, interval, watch, stream or previews."""
    source = session.get(Source, source_id)
    if source is None:
        field_error("path", "source_id", f"no source {source_id}", status=404)
    changes = body.model_dump(exclude_unset=True)
    enabled = changes.pop("enabled", None)
    try:
        if changes:
            edit_source(session, source, changes)
    except sources.SourceOptionError as error:
        field_error("body", next(iter(changes)), str(error))
    if enabled is not None:
        source.enabled = enabled
    session.flush()
    return _source_out(source)


@router.delete("/sources/{source_id}", status_code=204)
def delete_source(source_id: IdPath, session: SessionDep) -> Response:
    """Remove a source and its posts; the memes it brought stay."""
    source = session.get(Source, source_id)
    if source is None:
        field_error("path", "source_id", f"no source {source_id}", status=404)
    if source.options.get("library"):
        field_error("path", "source_id", "the library folder is always a source; disable it instead", status=409)
    session.delete(source)
    return Response(status_code=204)


@router.get("/sources/failures", response_model=list[dict[str, Any]])
def failing_sources(session: SessionDep) -> list[dict[str, Any]]:
    """Sources whose last crawl failed or lost images, or whose posts wait to be fetched again: why, in words."""
    return source_failures(session)


@router.post("/sources/{source_id}/retry", response_model=QueuedOut)
def retry_source(source_id: IdPath, session: SessionDep) -> QueuedOut:
    """Fetch the source's waiting posts again now, and crawl it: the crawl queued at once."""
    if session.get(Source, source_id) is None:
        field_error("path", "source_id", f"no source {source_id}", status=404)
    waiting = retry_now(session, source_id)
    session.commit()  # before the crawl is queued, so the worker finds the posts due
    queued = enqueue(f"crawl of source {source_id}", lambda: send(tasks.CRAWL_SOURCE, source_id))
    if queued.queued and waiting:
        return queued.model_copy(update={"detail": f"{queued.detail}; {waiting} waiting posts fetched again"})
    return queued


@router.post("/sources/{source_id}/crawl", response_model=QueuedOut)
def crawl_now(source_id: IdPath, session: SessionDep) -> QueuedOut:
    if session.get(Source, source_id) is None:
        field_error("path", "source_id", f"no source {source_id}", status=404)
    return enqueue(f"crawl of source {source_id}", lambda: send(tasks.CRAWL_SOURCE, source_id))


@router.get("/models", response_model=list[ModelVersionOut])
def list_models(session: SessionDep) -> list[ModelVersionOut]:
    rows = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    return [ModelVersionOut.model_validate(m, from_attributes=True) for m in rows]


@router.post("/models/{model_version_id}/current", response_model=QueuedOut, status_code=202)
def make_current(model_version_id: IdPath, session: SessionDep) -> QueuedOut:
    """Queue the switch to this version; the trainer makes it under the training lock, then rescores."""
    if session.get(ModelVersion, model_version_id) is None:
        field_error("path", "model_version_id", f"no model version {model_version_id}", status=404)
    return enqueue(f"making model version {model_version_id} current",
                    lambda: send(tasks.MAKE_CURRENT, model_version_id))  # fmt: skip


@router.post("/models/{model_version_id}/pin", response_model=ModelVersionOut)
def pin(model_version_id: IdPath, session: SessionDep) -> ModelVersionOut:
    """Keep this version current: automatic retrains and sweeps record new versions but do not replace
    it until it is unpinned. One not current yet is made current by the trainer (queued here; if the
    broker is away, the next training makes it current)."""
    version = model_versions.get_version(session, model_version_id)
    model_versions.pin_version(session, version)
    if not version.is_current:
        enqueue(f"making model version {model_version_id} current", lambda: send(tasks.MAKE_CURRENT, version.id))
    return ModelVersionOut.model_validate(version, from_attributes=True)


@router.delete("/models/{model_version_id}/pin", response_model=ModelVersionOut)
def unpin(model_version_id: IdPath, session: SessionDep) -> ModelVersionOut:
    """Let the next automatic retrain replace this version again."""
    version = model_versions.get_version(session, model_version_id)
    model_versions.unpin_version(session, version)
    return ModelVersionOut.model_validate(version, from_attributes=True)


@router.delete("/models/{model_version_id}", status_code=204, responses={409: {"description": "Current or pinned"}})
def delete_model(model_version_id: IdPath, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a version that is neither current nor pinned, with its scores and its folder."""
    model_versions.delete_version(
        session, model_versions.get_version(session, model_version_id), Path(settings.storage)
    )
    return Response(status_code=204)


@router.get("/models/compare", response_model=dict[str, Any])
def compare_models(
    session: SessionDep, a: int = Query(ge=1, le=2**31 - 1), b: int = Query(ge=1, le=2**31 - 1)
) -> dict[str, Any]:
    """Versions `a` and `b` side by side on the held-out evaluation labels (AUROC, precision of the
    top fractions) and the memes whose percentiles under the two differ most."""
    found = {v.id: v for v in session.scalars(select(ModelVersion).where(ModelVersion.id.in_((a, b))))}
    for name, version_id in (("a", a), ("b", b)):
        if version_id not in found:
            field_error("query", name, f"no model version {version_id}", status=404)
    return model_versions.compare(session, found[a], found[b])


@router.post("/models/retrain", response_model=QueuedOut)
def retrain(settings: SettingsDep) -> QueuedOut:
    encoder = serving_encoder(settings.embedder)
    return enqueue("a retrain", lambda: coordination.request_retrain(coordination.redis_client(), encoder))


@router.post("/models/sweep", response_model=QueuedOut)
def sweep() -> QueuedOut:
    return enqueue("a hyperparameter sweep", lambda: send(tasks.SWEEP))


@router.post("/models/rescore", response_model=QueuedOut)
def rescore() -> QueuedOut:
    return enqueue("a rescore of every meme", lambda: send(tasks.SCORE_ALL))
