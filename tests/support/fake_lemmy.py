"""A stand-in for a Lemmy instance on loopback: `GET /api/v3/post/list` with cursor paging, pict-rs images,
429s with Retry-After on demand. Real HTTP (uvicorn), for tests.

The shapes follow Lemmy 0.19's API as its source defines them (LemmyNet/lemmy `crates/api_common/src/post.rs`:
`GetPosts` takes `community_name`, `sort`, `limit` (at most 50), `page_cursor`; `GetPostsResponse` is
`{posts: PostView[], next_page?: PaginationCursor}`) and lemmy-js-client's `PostView`, `Post`, `Person`,
`Community` and `PostAggregates` types; an error is `{"error": "<name>"}` with HTTP 400 (404 for an
unknown community on 0.19.4+ is also `{"error": "couldnt_find_community"}`)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer

SORTS = ("Active", "Hot", "New", "Old", "TopHour", "TopDay", "TopWeek", "TopMonth", "TopYear", "TopAll",
         "MostComments", "NewComments", "Controversial", "Scaled")  # fmt: skip
BASE_TIME = 1_700_000_000


class FakeLemmy:
    """Communities of posts (newest first) on one instance, images by name, and 429s to inject."""

    def __init__(self, instance: str = "lemmy.ml", retry_after_s: float = 1.0) -> None:
        self.instance = instance
        self.retry_after_s = retry_after_s
        self.communities: dict[str, list[dict[str, Any]]] = {}
        self.images: dict[str, bytes] = {}
        self.unavailable: set[str] = set()  # image names answered 503 until removed from here
        self.failures: deque[int] = deque()  # statuses of the next post list answers
        self.requests: list[tuple[float, dict[str, str]]] = []  # (when, query) of each post list request
        self._loopback = LoopbackServer("fake Lemmy")
        self.base_url = self._loopback.base_url

    # ---- content -------------------------------------------------------------------------
    def add_image(self, name: str, data: bytes) -> str:
        self.images[name] = data
        return f"{self.base_url}/pictrs/image/{name}"

    def add_posts(self, community: str, views: list[dict[str, Any]]) -> None:
        merged = self.communities.get(community, []) + views
        self.communities[community] = sorted(merged, key=lambda v: v["post"]["id"], reverse=True)

    def post(self, n: int, community: str, url: str | None, **fields: Any) -> dict[str, Any]:
        """A PostView as Lemmy 0.19 sends it; `n` orders posts (higher is newer)."""
        home = f"https://{self.instance}"
        published = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(BASE_TIME + 60 * n))
        post = {
            "id": n, "name": f"lemmy post {n}", "url": url, "body": None, "creator_id": 100 + n % 5,
            "community_id": 7, "removed": False, "locked": False, "published": published, "updated": None,
            "deleted": False, "nsfw": False, "embed_title": None, "embed_description": None,
            "thumbnail_url": None, "ap_id": f"{home}/post/{n}", "local": True, "embed_video_url": None,
            "language_id": 37, "featured_community": False, "featured_local": False,
            "url_content_type": "image/jpeg" if url and "/pictrs/" in url else None, "alt_text": None,
        }  # fmt: skip
        post.update(fields)
        return {
            "post": post,
            "creator": {"id": post["creator_id"], "name": f"lemming{n % 5}", "display_name": None,
                        "banned": False, "published": published, "actor_id": f"{home}/u/lemming{n % 5}",
                        "local": True, "deleted": False, "bot_account": False, "instance_id": 1},
            "community": {"id": 7, "name": community, "title": community.title(), "removed": False,
                          "published": published, "deleted": False, "nsfw": False,
                          "actor_id": f"{home}/c/{community}", "local": True, "hidden": False,
                          "posting_restricted_to_mods": False, "instance_id": 1, "visibility": "Public"},
            "creator_banned_from_community": False, "banned_from_community": False, "creator_is_moderator": False,
            "creator_is_admin": False,
            "counts": {"post_id": n, "comments": 0, "score": n, "upvotes": n, "downvotes": 0,
                       "published": published, "newest_comment_time": published},
            "subscribed": "NotSubscribed", "saved": False, "read": False, "hidden": False,
            "creator_blocked": False, "my_vote": None, "unread_comments": 0,
        }  # fmt: skip

    def fail_next(self, status: int, count: int = 1) -> None:
        """The next `count` post list requests answer `status` (429 carries Retry-After)."""
        self.failures.extend([status] * count)

    # ---- API -------------------------------------------------------------------------------
    async def _post_list(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.requests.append((time.monotonic(), query))
        if self.failures:
            status = self.failures.popleft()
            headers = {"retry-after": f"{self.retry_after_s:g}"} if status == 429 else {}
            return JSONResponse({"error": "rate_limit_error" if status == 429 else "unknown"}, status, headers)
        if query.get("sort", "Active") not in SORTS:
            return JSONResponse({"error": "couldnt_parse_sort"}, 400)
        name, _, host = query.get("community_name", "").partition("@")
        if name not in self.communities or host not in ("", self.instance):
            return JSONResponse({"error": "couldnt_find_community"}, 404)
        limit = int(query.get("limit", 10))
        if not 1 <= limit <= 50:
            return JSONResponse({"error": "couldnt_get_posts"}, 400)
        views = self.communities[name]
        start = 0
        if cursor := query.get("page_cursor"):
            # A 0.19 cursor names the last post of the page before (opaque to clients; here "P<id>").
            after = int(cursor.removeprefix("P"))
            start = next((i for i, v in enumerate(views) if v["post"]["id"] < after), len(views))
        page = views[start : start + limit]
        body: dict[str, Any] = {"posts": page}
        if page:  # as Lemmy: a cursor after every non-empty page, even the last
            body["next_page"] = f"P{page[-1]['post']['id']}"
        return JSONResponse(body)

    async def _post(self, request: Request) -> Response:
        """`GET /api/v3/post?id=N`: one post, as `GetPostResponse` (`post_view` and the rest)."""
        self.requests.append((time.monotonic(), dict(request.query_params)))
        wanted = int(request.query_params.get("id", "0"))
        for views in self.communities.values():
            for view in views:
                if view["post"]["id"] == wanted:
                    return JSONResponse({"post_view": view, "community_view": {}, "moderators": [], "cross_posts": []})
        return JSONResponse({"error": "couldnt_find_post"}, 404)

    def remove_post(self, n: int) -> None:
        for community, views in self.communities.items():
            self.communities[community] = [v for v in views if v["post"]["id"] != n]

    async def _image(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name in self.unavailable:
            return Response("<html>upstream overloaded</html>", 503, media_type="text/html")
        if name not in self.images:
            return Response("not found", 404)
        return Response(self.images[name], 200, media_type="image/jpeg")

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeLemmy:
        routes = [Route("/api/v3/post/list", self._post_list), Route("/api/v3/post", self._post),
                  Route("/pictrs/image/{name}", self._image)]  # fmt: skip
        self._loopback.serve(Starlette(routes=routes))
        return self

    def stop(self) -> None:
        self._loopback.shut()

    def __enter__(self) -> FakeLemmy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
