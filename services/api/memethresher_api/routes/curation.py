"""JSON endpoints of the curation page: the best pending meme, keep, discard, undo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from memethresher_shared.settings import OVERALL
from memethresher_shared.store import get_store

from memethresher_api import curation
from memethresher_api.deps import IdPath, SessionDep, SettingsDep, not_found
from memethresher_api.schemas import CurationItemOut, KeepIn

router = APIRouter(prefix="/api/curation", tags=["curation"])
AxisQuery = Annotated[str, Query(max_length=32, description="the rating axis whose scores order the queue")]
QueuedByQuery = Annotated[
    str | None, Query(max_length=32, description="only memes this axis' curation threshold queued")
]


@router.get("/next", response_model=CurationItemOut, responses={404: {"description": "Nothing pending"}})
def next_item(
    session: SessionDep, settings: SettingsDep, axis: AxisQuery = OVERALL, queued_by: QueuedByQuery = None
) -> CurationItemOut:
    """The pending meme the current model scores highest on `axis`, with a kept near-duplicate if there
    is one; memes it no longer scores within that axis' top fraction come last, with `sunk_reason`
    saying why. With `queued_by`, only the memes that axis queued."""
    ranking = curation.current_ranking(session, settings, axis, queued_by)
    item = curation.next_item(session, ranking)
    if item is None:
        not_found("nothing is waiting for curation; it fills after the model scores memes")
    return curation.item_out(session, item, settings, ranking)


@router.post("/{item_id}/keep", response_model=CurationItemOut)
def keep(
    item_id: IdPath, body: KeepIn, session: SessionDep, settings: SettingsDep, request: Request,
    background: BackgroundTasks, axis: AxisQuery = OVERALL,
) -> CurationItemOut:  # fmt: skip
    """Copy the meme into the library folder under a safe version of `name`."""
    ranking = curation.current_ranking(session, settings, axis)
    item = curation.pending_item(session, item_id)
    curation.keep(session, item, body.name, settings.library_dir, get_store())
    session.flush()
    # Once committed (background tasks run after the session closes): decisions teach the model too.
    background.add_task(curation.retrain_if_due, settings, request.app.state.retrain)
    return curation.item_out(session, item, settings, ranking)


@router.post("/{item_id}/discard", response_model=CurationItemOut)
def discard(
    item_id: IdPath, session: SessionDep, settings: SettingsDep, request: Request, background: BackgroundTasks,
    axis: AxisQuery = OVERALL,
) -> CurationItemOut:  # fmt: skip
    ranking = curation.current_ranking(session, settings, axis)
    item = curation.pending_item(session, item_id)
    curation.discard(item)
    session.flush()
    background.add_task(curation.retrain_if_due, settings, request.app.state.retrain)
    return curation.item_out(session, item, settings, ranking)


@router.post("/undo", response_model=CurationItemOut, responses={404: {"description": "No decision to undo"}})
def undo(
    session: SessionDep, settings: SettingsDep, request: Request, background: BackgroundTasks, axis: AxisQuery = OVERALL
) -> CurationItemOut:
    """Put the last kept or discarded meme back at the front of the queue."""
    ranking = curation.current_ranking(session, settings, axis)
    item = curation.undo_last(session, settings.library_dir)
    if item is None:
        not_found("no curation decision to undo")
    session.flush()
    background.add_task(curation.retrain_if_due, settings, request.app.state.retrain)
    return curation.item_out(session, item, settings, ranking)
