"""The FastAPI application: `uvicorn --factory memethresher_api.main:create_app`."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from memethresher_shared.logs import configure_logging
from memethresher_shared.observability import render_metrics
from sqlalchemy import text

from memethresher_api import broker
from memethresher_api.deps import SessionDep, SettingsDep
from memethresher_api.errors import ApiError
from memethresher_api.folders import folder_problems
from memethresher_api.offered import OfferedPairs
from memethresher_api.ratings import RetrainRequests
from memethresher_api.routes import (
    admin,
    curation,
    encoders,
    evaluation,
    history,
    images,
    pages,
    prompts,
    rating,
    reddit_access,
)
from memethresher_api.schemas import HealthOut
from memethresher_api.security import SecurityMiddleware
from memethresher_api.settings import get_api_settings

STATIC = Path(__file__).resolve().parent / "static"


def create_app() -> FastAPI:
    """Build the app; settings are read now, not at import."""
    settings = get_api_settings()
    configure_logging("api")
    if settings.needs_token and not settings.api_token:
        raise RuntimeError(
            f"MEMETHRESHER_HOST is {settings.host!r}, not loopback: set MEMETHRESHER_API_TOKEN so only you can use it"
        )
    app = FastAPI(
        title="MemeThresher",
        version="0.1.0",
        description="Rate pairs of memes, curate the best, evaluate the model. Images are served by meme id.",
    )
    app.state.thumbnails = images.RecentThumbnails()
    app.state.offered = OfferedPairs()
    app.state.retrain = RetrainRequests()
    # Inside the security checks: cached thumbnails, answered ahead of routing.
    app.add_middleware(images.RecentThumbnailsFirst, recent=app.state.thumbnails)
    app.add_middleware(
        SecurityMiddleware,
        token=settings.api_token if settings.needs_token else "",
        answered_hosts=settings.answered_hosts,
    )
    app.add_exception_handler(ApiError, refused)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (rating, history, curation, evaluation, admin, encoders, prompts, reddit_access, images, pages):
        app.include_router(module.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=HealthOut, tags=["health"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["health"], include_in_schema=False)
    # Everything imported and built so far lives as long as the process: out of the collector's
    # sight, a full collection in the middle of a request no longer walks it.
    gc.collect()
    gc.freeze()
    return app


async def refused(_request: Request, error: Exception) -> JSONResponse:
    """A request the domain code refused (`errors.ApiError`): its 4xx, with its message."""
    assert isinstance(error, ApiError)
    return JSONResponse({"detail": error.detail()}, status_code=error.status)


def metrics() -> Response:
    """Prometheus metrics of this API process (behind the token, like everything but /healthz)."""
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


def healthz(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """200 when the database answers and every folder the API writes can be written; reports
    whether the broker is reachable too."""
    try:
        session.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    reachable = broker.broker_reachable(settings.broker_url)
    problems = folder_problems(settings)
    healthy = database and not problems
    body = HealthOut(status="ok" if healthy and reachable else "degraded", database=database, broker=reachable,
                     folders=problems)  # fmt: skip
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
