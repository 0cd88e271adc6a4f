"""A stand-in for Reddit on loopback, shut as Reddit is since 2026: `www` answers JSON only to a logged-in
session cookie (else the "blocked by network security" page), `oauth` only to a bearer token, `old`
redirects to the login page, Atom feeds answer once a minute per client. Rate-limit headers, failures on
demand, and image endpoints that lie. Real HTTP (uvicorn), each host on its own port."""

from __future__ import annotations

import asyncio
import email.utils
import json
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.bad_bodies import bad_response, stall
from tests.support.image_hosts import ImageHosts, ThroughFake
from tests.support.loopback import LoopbackServer
from tests.support.reddit_doors import Doors
from tests.support.reddit_pages import LOGIN, atom_feed
from tests.support.reddit_posts import listing

LISTING_MODES = ("429", "503", "truncated", "slow", "stall")
SORTS = ("new", "hot", "top", "rising", "controversial")


class FakeReddit:
    """Subreddits of posts (newest first), images by name, and a queue of failures to inject."""

    def __init__(
        self,
        *,
        allowance: int = 600,
        window_s: float = 600.0,
        retry_after_s: float = 1.0,
        retry_after_as_date: bool = False,
        slow_s: float = 0.5,
        token_ttl_s: int = 3600,
    ) -> None:
        self.allowance, self.window_s = allowance, window_s
        self.retry_after_s, self.slow_s, self.token_ttl_s = retry_after_s, slow_s, token_ttl_s
        self.retry_after_as_date = retry_after_as_date  # Retry-After as an HTTP date, not seconds
        self.client_id, self.client_secret = "fake-client", "fake-secret"
        self.subreddits: dict[str, list[dict[str, Any]]] = {}
        self.multis: dict[tuple[str, str], list[str]] = {}
        self.images: dict[str, bytes] = {}
        self.recorded: dict[str, dict[str, Any]] = {}  # listing path -> a recorded listing body, served as is
        self.hosts = ImageHosts()
        self.unavailable: set[str] = set()  # image names answered 503 until removed from here
        self.image_latency_s = 0.0
        self.listing_latency_s = 0.0
        self.failures: deque[str] = deque()
        self.listing_times: list[float] = []
        self.over_limit = 0  # listing requests sent while our headers said none were left
        self.user_agents: set[str] = set()
        self.token_requests = 0
        self.doors = Doors()  # who may come in by which door, and the feeds' throttle
        self.image_requests: dict[str, int] = {}
        self._window_start = time.monotonic()
        self._window_used = 0
        self._lock = threading.Lock()
        # www.reddit.com, oauth.reddit.com and old.reddit.com, each a port of its own.
        self._loopback = LoopbackServer("fake Reddit", hosts=("www", "oauth", "old"))
        self.base_url, self.oauth_url, self.old_url = (self._loopback.urls[h] for h in ("www", "oauth", "old"))

    # ---- content -------------------------------------------------------------------------
    def add_image(self, name: str, data: bytes) -> str:
        self.images[name] = data
        return f"{self.base_url}/img/{name}"

    def add_posts(self, subreddit: str, posts: list[dict[str, Any]]) -> None:
        merged = self.subreddits.get(subreddit, []) + posts
        self.subreddits[subreddit] = sorted(merged, key=lambda p: p["created_utc"], reverse=True)

    def add_recorded(self, path: str, body: dict[str, Any]) -> None:
        """Serve a recorded listing body at `path` (e.g. `/r/askreddit/hot.json`); its next page is empty."""
        self.recorded[path] = body
        self.hosts.offer(body)

    def transport(self, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
        """The crawler's transport, with outside image hosts answered by this fake (see image_hosts)."""
        from memethresher_crawler.transport import async_transport

        return ThroughFake(self.base_url, async_transport(limits))

    def remove_post(self, name: str) -> None:
        """The post is deleted: gone from its listings and from by_id."""
        for subreddit, posts in self.subreddits.items():
            self.subreddits[subreddit] = [p for p in posts if p["name"] != name]

    def fail_next(self, mode: str, count: int = 1) -> None:
        """The next `count` listing requests fail this way (see LISTING_MODES)."""
        assert mode in LISTING_MODES, mode
        self.failures.extend([mode] * count)

    def requests_over_budget(
        self, per_minute: int, window_s: float = 60.0, slack_s: float = 0.0, times: list[float] | None = None
    ) -> int:
        """Listing requests (or `times`, e.g. the feeds served) that arrived when `per_minute` had already
        come in the last window (less `slack_s`, for the time a request spends between the budget and us)."""
        times, over = sorted(self.listing_times if times is None else times), 0
        for i, moment in enumerate(times):
            earlier = sum(1 for t in times[:i] if moment - t < window_s - slack_s)
            over += earlier >= per_minute
        return over

    def oauth_env(self) -> dict[str, str]:
        """Crawler settings that read this fake through an app's OAuth token."""
        return {"MEMETHRESHER_REDDIT_ACCESS": "oauth", "MEMETHRESHER_REDDIT_BASE_URL": self.base_url,
                "MEMETHRESHER_REDDIT_OAUTH_BASE_URL": self.oauth_url,
                "MEMETHRESHER_REDDIT_TOKEN_URL": f"{self.base_url}/api/v1/access_token",
                "MEMETHRESHER_REDDIT_CLIENT_ID": self.client_id,
                "MEMETHRESHER_REDDIT_CLIENT_SECRET": self.client_secret}  # fmt: skip

    def stats(self) -> dict[str, Any]:
        return {"listing_requests": len(self.listing_times), "over_limit": self.over_limit,
                "token_requests": self.token_requests, "user_agents": sorted(self.user_agents),
                "image_requests": sum(self.image_requests.values())}  # fmt: skip

    # ---- listings -------------------------------------------------------------------------
    def _posts_for(self, path: str) -> list[dict[str, Any]] | None:
        parts = path.strip("/").removesuffix(".json").split("/")
        everything = [p for posts in self.subreddits.values() for p in posts]
        if (len(parts) == 1 and parts[0] in SORTS) or parts in (["r", "all", parts[-1]], ["r", "popular", parts[-1]]):
            # The front page, r/all and r/popular: every subreddit's posts.
            return sorted(everything, key=lambda p: p["created_utc"], reverse=True)[:1000]
        if len(parts) == 2 and parts[0] == "by_id":  # as Reddit: the posts found, in the order asked
            everything = {p["name"]: p for posts in self.subreddits.values() for p in posts}
            return [everything[name] for name in parts[1].split(",") if name in everything]
        if len(parts) == 3 and parts[0] == "r":
            names = parts[1].lower().split("+")
        elif len(parts) == 5 and parts[0] == "user" and parts[2] == "m":
            names = self.multis.get((parts[1], parts[3].lower()), [])
        elif len(parts) == 3 and parts[0] == "user" and parts[2] == "submitted":
            everything = [p for posts in self.subreddits.values() for p in posts if p["author"] == parts[1]]
            return sorted(everything, key=lambda p: p["created_utc"], reverse=True)
        else:
            return None
        if any(name not in self.subreddits for name in names):
            return None
        merged = [p for name in names for p in self.subreddits[name]]
        return sorted(merged, key=lambda p: p["created_utc"], reverse=True)[:1000]

    def _ratelimit_headers(self) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self.window_s:
                self._window_start, self._window_used = now, 0
            self._window_used += 1
            if self._window_used > self.allowance:
                self.over_limit += 1
            remaining = max(self.allowance - self._window_used, 0)
            reset = self.window_s - (now - self._window_start)
        return {"x-ratelimit-used": str(self._window_used), "x-ratelimit-remaining": f"{remaining:.1f}",
                "x-ratelimit-reset": str(max(int(reset + 0.999), 1))}  # fmt: skip

    async def _door(self, request: Request) -> Response:
        """Every listing and feed: which host was asked, and whether it lets this request in."""
        host = self._loopback.ports.get(request.scope["server"][1], "www")
        self.user_agents.add(request.headers.get("user-agent", ""))
        if host == "old":
            return RedirectResponse(f"{self.base_url}/login/?dest={request.url.path}", 302)
        if request.url.path == "/login/":
            return HTMLResponse(LOGIN)
        if request.url.path.endswith(".rss") and host == "www":
            return self._feed(request)
        self.listing_times.append(time.monotonic())
        if host == "oauth" and not self._token_ok(request):
            return JSONResponse({"message": "Unauthorized", "error": 401}, status_code=401)
        if host == "www" and (refused := self.doors.www_refusal(request)) is not None:
            return refused
        return await self._listing(request)

    def _feed(self, request: Request) -> Response:
        refused = self.doors.feed_refusal(request)
        if refused is not None:
            return refused
        path = request.url.path.removesuffix(".rss").rstrip("/") or "/new"  # `/.rss`: the front page
        posts = self._posts_for(path + ".json")
        if posts is None:
            return Response("<html>page not found</html>", 404, media_type="text/html")
        limit = min(int(request.query_params.get("limit", 25)), 100)
        body = atom_feed(posts[:limit], path or "front page")
        return Response(body, 200, media_type="application/atom+xml")

    async def _listing(self, request: Request) -> Response:
        headers = self._ratelimit_headers()
        mode = self.failures.popleft() if self.failures else None
        if mode == "429":
            return JSONResponse({"message": "Too Many Requests", "error": 429}, 429,
                                {**headers, "retry-after": self._retry_after()})  # fmt: skip
        if mode == "503":
            return Response("<html>upstream overloaded</html>", 503, headers, media_type="text/html")
        if request.url.path in self.recorded:
            after = request.query_params.get("after")
            return JSONResponse(listing([], None) if after else self.recorded[request.url.path], 200, headers)
        posts = self._posts_for(request.url.path)
        if posts is None:
            return JSONResponse({"message": "Not Found", "error": 404}, 404, headers)
        body = json.dumps(self._page(posts, request)).encode()
        if mode == "truncated":
            return Response(body[: len(body) // 2], 200, headers, media_type="application/json")
        if mode == "stall":
            return StreamingResponse(stall(body[:100]), 200, headers, media_type="application/json")
        await asyncio.sleep(self.slow_s if mode == "slow" else self.listing_latency_s)
        return Response(body, 200, headers, media_type="application/json")

    def _retry_after(self) -> str:
        if not self.retry_after_as_date:
            return str(self.retry_after_s)
        # HTTP dates have whole seconds: round up so the wait asked for is at least retry_after_s.
        moment = datetime.now(UTC) + timedelta(seconds=self.retry_after_s + 1)
        return email.utils.format_datetime(moment.replace(microsecond=0), usegmt=True)

    def _page(self, posts: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        limit = min(int(request.query_params.get("limit", 25)), 100)
        after = request.query_params.get("after")
        start = 0
        if after:
            names = [p["name"] for p in posts]
            start = names.index(after) + 1 if after in names else len(posts)
        page = posts[start : start + limit]
        more = start + limit < len(posts)
        return listing(page, page[-1]["name"] if page and more else None)

    # ---- OAuth -----------------------------------------------------------------------------
    def _token_ok(self, request: Request) -> bool:
        return self.doors.token_ok(request.headers.get("authorization", ""))

    async def _access_token(self, request: Request) -> Response:
        self.token_requests += 1
        form = parse_qs((await request.body()).decode())
        app = (self.client_id, self.client_secret)
        return self.doors.token(request.headers.get("authorization", ""), app, form, self.token_ttl_s)

    # ---- images ----------------------------------------------------------------------------
    async def _image(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.image_requests[name] = self.image_requests.get(name, 0) + 1
        if name in self.unavailable:
            return Response("<html>upstream overloaded</html>", 503, media_type="text/html")
        if name not in self.images:
            return Response("not found", 404)
        if self.image_latency_s:
            await asyncio.sleep(self.image_latency_s)
        return Response(self.images[name], 200, media_type="image/jpeg")

    async def _bad(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        self.image_requests[kind] = self.image_requests.get(kind, 0) + 1
        return bad_response(kind, self.image_requests[kind])

    async def _stats(self, request: Request) -> Response:
        per_minute = int(request.query_params.get("per_minute", "100"))
        feeds = self.doors.feed_times
        feed_over = self.requests_over_budget(1, self.doors.feed_window_s, times=feeds)
        return JSONResponse({**self.stats(), "requests_over_budget": self.requests_over_budget(per_minute),
                             "feed_requests": len(feeds), "feeds_refused": self.doors.feeds_refused,
                             "feed_requests_over_budget": feed_over})  # fmt: skip

    async def _redirect(self, request: Request) -> Response:
        return RedirectResponse(f"/img/{request.path_params['name']}", 301)

    # ---- lifecycle -------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/api/v1/access_token", self._access_token, methods=["POST"]),
            Route("/img/{name}", self._image),
            Route("/bad/{kind}", self._bad),
            Route("/redirect/{name}", self._redirect),
            Route("/_fake/stats", self._stats),
            Route("/ext/{path:path}", self.hosts.handle),
            Route("/{path:path}", self._door),
        ])  # fmt: skip

    def start(self) -> FakeReddit:
        self._loopback.serve(self.app())
        return self

    def stop(self) -> None:
        self._loopback.shut()

    def __enter__(self) -> FakeReddit:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
