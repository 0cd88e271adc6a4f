"""A stand-in for the Arctic Shift archive of Reddit on loopback: `GET /api/posts/search` with
`subreddit`, `after`, `before` (epoch seconds), `sort` and `limit` (1-100), answering `{"data": [...]}`
of Reddit-shaped posts as the archive's API README describes it. Real HTTP (uvicorn), for tests."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer


class FakeArctic:
    """Archived posts by subreddit; every search request kept with its query."""

    def __init__(self) -> None:
        self.posts: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dict[str, str]] = []
        self._loopback = LoopbackServer("fake Arctic Shift")
        self.base_url = self._loopback.base_url

    def archive(self, subreddit: str, posts: list[dict[str, Any]]) -> None:
        self.posts.setdefault(subreddit.lower(), []).extend(posts)

    async def _search(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.requests.append(query)
        limit = int(query.get("limit", 25))
        if not 1 <= limit <= 100:
            return JSONResponse({"error": "limit must be between 1 and 100"}, 400)
        after, before = float(query.get("after", 0)), float(query.get("before", time.time() + 1))
        found = [p for p in self.posts.get(query.get("subreddit", "").lower(), [])
                 if after < p["created_utc"] < before]  # fmt: skip
        found.sort(key=lambda p: p["created_utc"], reverse=query.get("sort", "desc") == "desc")
        return JSONResponse({"data": found[:limit]})

    def start(self) -> FakeArctic:
        self._loopback.serve(Starlette(routes=[Route("/api/posts/search", self._search)]))
        return self

    def stop(self) -> None:
        self._loopback.shut()

    def __enter__(self) -> FakeArctic:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
