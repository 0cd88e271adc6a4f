"""The rating history: the page, and the JSON endpoints listing, changing and undoing ratings."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from memethresher_shared.settings import CHOICES

from memethresher_api import history, ratings
from memethresher_api.deps import IdPath, SessionDep, SettingsDep, in_thread
from memethresher_api.history import HistoryFilter
from memethresher_api.routes.pages import templates
from memethresher_api.schemas import Choice, HistoryPageOut, RatingChangeIn, RatingOut

router = APIRouter(tags=["history"])
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
NO_RATING: dict[int | str, dict[str, Any]] = {404: {"description": "No rating with this id"}}


@router.get("/history", response_class=HTMLResponse, include_in_schema=False)
def history_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    axes = list(settings.all_axes) if settings.rating_axes else []
    context = {"page": "history", "axes": axes, "choices": list(CHOICES)}
    return templates.TemplateResponse(request, "history.html", context)


@router.get("/api/ratings", response_model=HistoryPageOut)
def list_ratings(
    session: SessionDep,
    axis: Annotated[str | None, Query(max_length=32)] = None,
    origin: Literal["random", "acquisition", "four"] | None = None,
    choice: Choice | None = None,
    meme: Annotated[OptionalId, Query(description="ratings of this meme, on either side")] = None,
    since: Annotated[datetime | None, Query(description="rated at or after (UTC unless a zone is given)")] = None,
    until: Annotated[datetime | None, Query(description="rated before (UTC unless a zone is given)")] = None,
    before: Annotated[OptionalId, Query(description="the `next_before` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=history.MAX_PAGE)] = 50,
) -> HistoryPageOut:
    """Stored ratings, newest first, with both memes and where each pair came from (random, or an
    acquisition batch and its strategy); paged by the cursor `before`."""
    wanted = HistoryFilter(axis, origin, choice, meme, since, until, before, limit)
    return history.rating_history(session, wanted)


@router.patch("/api/ratings/{rating_id}", response_model=RatingOut, responses=NO_RATING)
async def change_rating(rating_id: IdPath, body: RatingChangeIn, settings: SettingsDep, request: Request) -> RatingOut:
    """Give a rating a new choice; it counts toward the next retrain like a new rating."""
    edit = functools.partial(ratings.change_rating, choice=body.choice)
    return await in_thread(history.edit_and_maybe_retrain, rating_id, edit, settings, request.app.state.retrain)


@router.delete("/api/ratings/{rating_id}", response_model=RatingOut, responses=NO_RATING)
async def delete_rating(rating_id: IdPath, settings: SettingsDep, request: Request) -> RatingOut:
    """Undo a rating: an acquisition pair goes back to pending; it counts toward the next retrain."""
    retrain = request.app.state.retrain
    return await in_thread(history.edit_and_maybe_retrain, rating_id, ratings.undo_rating, settings, retrain)
