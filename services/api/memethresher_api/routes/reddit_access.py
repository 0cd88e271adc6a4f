"""The Sources page's Reddit access check: asked of the crawler through the queue, read back from
Redis, where the crawler keeps the last one (the API imports no crawler code)."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from fastapi import APIRouter
from memethresher_shared import coordination, tasks
from memethresher_shared.celery_app import send

from memethresher_api.routes.admin import enqueue
from memethresher_api.schemas import QueuedOut

router = APIRouter(prefix="/api/reddit", tags=["admin"])
log = logging.getLogger(__name__)


@router.get("/check", response_model=dict[str, Any])
def last_check() -> dict[str, Any]:
    """The last check of each door to Reddit (`checked_at` null if none was run yet)."""
    try:
        raw = coordination.redis_client().get(tasks.REDDIT_CHECK_KEY)
    except (redis.RedisError, ValueError, OSError) as error:
        log.info("broker unreachable while reading the Reddit check", exc_info=True)
        return {"checked_at": None, "modes": [], "detail": f"broker unreachable ({type(error).__name__})"}
    if raw is None:
        return {"checked_at": None, "modes": [], "detail": "not checked yet"}
    return dict(json.loads(raw))


@router.post("/check", response_model=QueuedOut, status_code=202)
def request_check() -> QueuedOut:
    """Ask a crawler worker to try each door to Reddit now."""
    return enqueue("a check of Reddit access", lambda: send(tasks.REDDIT_CHECK))
