"""JSON endpoints of the rating page: next pairs, ratings, skip, stats (undo: `routes.history`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from memethresher_shared import coordination
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import AcquisitionPair
from memethresher_shared.versions import current_version
from pydantic import BaseModel

from memethresher_api import best_of_four, pairs, queries, ratings
from memethresher_api.axes import check_axis
from memethresher_api.deps import (
    IdPath,
    SessionDep,
    SettingsDep,
    field_error,
    in_autocommit,
    in_thread,
)
from memethresher_api.offered import OfferedPairs
from memethresher_api.schemas import (
    BestOfFourIn,
    PairOut,
    PairsOut,
    RatingIn,
    RatingOut,
    RatingsIn,
    RatingStatusOut,
    StatsOut,
)
from memethresher_api.settings import ApiSettings

router = APIRouter(prefix="/api", tags=["rating"])
AxisQuery = Annotated[str | None, Query(max_length=32, description="only pairs to rate on this rating axis")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Fewer than two embedded memes"}}


def json_of(model: BaseModel, status_code: int = 200) -> Response:
    """The model's JSON as is: it was validated when built, so the hot routes skip FastAPI's second
    validation and serialization of the return value (the response_model still documents it)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


async def hand_out(
    request: Request, encoder: str, count: int, exclude: list[int], axis: str | None = None
) -> list[PairOut]:
    """The next pairs (to rate on `axis`, when given), not those just handed to another rater (see
    `OfferedPairs`)."""
    offered: OfferedPairs = request.app.state.offered
    for _ in range(2):
        # Each request choosing alongside may take one of the same pairs, and so may as many that
        # begin after this one and answer first: spares for both, so a second read stays rare.
        spare = 2 * offered.choosing + 1
        offered.choosing += 1
        try:
            candidates = await in_autocommit(pairs.next_pairs, encoder, count, exclude, offered.held(), spare, axis)
        finally:
            offered.choosing -= 1
        # Requests that began later may have answered first and taken them all: ask again, once,
        # unless these were all the pending pairs there are.
        full_page = sum(1 for pair in candidates if pair.pair_id is not None) == count + spare
        if len(offered.fresh(candidates)) >= count or not full_page:
            break
    return offered.take(candidates, count)


@router.get("/pairs/next", response_model=PairOut, responses=NOT_FOUND)
async def next_pair(settings: SettingsDep, request: Request, axis: AxisQuery = None) -> Response:
    """The next pair to rate: from the newest acquisition batch when there is one, else random; with
    `axis`, from that axis' batch, else a pair not yet rated on it."""
    encoder = serving_encoder(settings.embedder)
    return json_of((await hand_out(request, encoder, 1, [], check_axis(settings, axis)))[0])


@router.get("/pairs", response_model=PairsOut, responses=NOT_FOUND)
async def upcoming_pairs(
    settings: SettingsDep,
    request: Request,
    count: Annotated[int, Query(ge=1, le=50)] = 4,
    exclude: Annotated[list[int], Query(max_length=200, description="pair ids the page already holds")] = [],  # noqa: B006
    axis: AxisQuery = None,
) -> PairsOut:
    """Several upcoming pairs, so the page can prefetch their images (on `axis` as for `/pairs/next`)."""
    encoder = serving_encoder(settings.embedder)
    return PairsOut(pairs=await hand_out(request, encoder, count, exclude, check_axis(settings, axis)))


@router.post("/pairs/{pair_id}/skip", response_model=dict[str, int | str])
def skip_pair(pair_id: IdPath, session: SessionDep) -> dict[str, int | str]:
    """Skip an acquisition pair; it is not offered again."""
    pair = session.get(AcquisitionPair, pair_id)
    if pair is None:
        field_error("path", "pair_id", f"no acquisition pair {pair_id}", status=404)
    if pair.status == "pending":
        pair.status = "skipped"
    return {"pair_id": pair.id, "status": pair.status}


async def store_and_maybe_retrain(request: Request, items: list[RatingIn], settings: ApiSettings) -> list[RatingOut]:
    stored = await in_thread(ratings.store_and_maybe_retrain, items, settings, request.app.state.retrain)
    return released(request, stored)


def released(request: Request, stored: list[RatingOut]) -> list[RatingOut]:
    """The pairs of these ratings are rated: no longer held for this page (see `OfferedPairs`)."""
    offered: OfferedPairs = request.app.state.offered
    offered.release(rating.pair_id for rating in stored)
    return stored


@router.post("/ratings", response_model=RatingOut, status_code=201)
async def post_rating(body: RatingIn, settings: SettingsDep, request: Request) -> Response:
    """Store a rating of memes `a` and `b` on the 5-point scale (a+ a tie b b+)."""
    return json_of((await store_and_maybe_retrain(request, [body], settings))[0], status_code=201)


@router.post("/ratings/batch", response_model=list[RatingOut], status_code=201)
async def post_ratings(body: RatingsIn, settings: SettingsDep, request: Request) -> list[RatingOut]:
    """Several ratings (one per axis) saved together: all or none."""
    return await store_and_maybe_retrain(request, body.ratings, settings)


@router.post("/ratings/four", response_model=list[RatingOut], status_code=201)
async def post_best_of_four(body: BestOfFourIn, settings: SettingsDep, request: Request) -> list[RatingOut]:
    """Store the best of the four memes of two offered pairs (overall axis): three ratings, the best
    meme better than each other one, claiming both pairs; all or none."""
    retrain = request.app.state.retrain
    return released(request, await in_thread(best_of_four.store_and_maybe_retrain, body, settings, retrain))


@router.get("/stats", response_model=StatsOut)
def get_stats(session: SessionDep, settings: SettingsDep) -> StatsOut:
    """Counts of memes, vectors, failures, ratings, models, scores, pending curation and library."""
    return queries.stats(session, serving_encoder(settings.embedder))


@router.get("/rating-status", response_model=RatingStatusOut)
def rating_status(session: SessionDep, settings: SettingsDep) -> RatingStatusOut:
    """What the rating page shows beside the pair: progress, model, retrain."""
    encoder = serving_encoder(settings.embedder)
    model = current_version(session, encoder)
    try:
        running: bool | None = coordination.retrain_running(coordination.redis_client(), encoder)
    except Exception:
        running = None
    return RatingStatusOut(
        ratings_today=queries.ratings_since(session, queries.start_of_today()),
        ratings_total=queries.ratings_since(session, queries.EPOCH),
        pending_in_batch=queries.pending_in_newest_batch(session, encoder),
        model_version_id=model.id if model else None,
        model_trained_at=model.created_at if model else None,
        retrain_running=running,
        stopping=(model.metrics or {}).get("stopping") if model else None,
    )
