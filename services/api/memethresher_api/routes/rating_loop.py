"""The rating loop's two JSON requests answered ahead of FastAPI's routing.

Next pair and save a rating run once per judgement. FastAPI's routing, dependency solving and
exception layers cost more CPU per request than their database work; this answers the plain case
with the routes' own functions and responses, and hands anything else (a query string, a body that
does not validate, fewer than two memes) to the routes, which answer it the documented way.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memethresher_api import pairs
from memethresher_api.routes.rating import hand_out, json_of, store_and_maybe_retrain
from memethresher_api.schemas import RatingIn
from memethresher_api.settings import get_api_settings


class RatingLoopFirst:
    """ASGI middleware, inside the security checks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response | None = None
        if scope["type"] == "http" and not scope["query_string"]:
            if scope["method"] == "GET" and scope["path"] == "/api/pairs/next":
                response = await _next_pair(Request(scope))
            elif scope["method"] == "POST" and scope["path"] == "/api/ratings" and _is_json(scope):
                body = await _body(receive)
                receive = _replay(body, receive)
                response = await _rating(Request(scope), body)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)


async def _next_pair(request: Request) -> Response | None:
    try:
        return json_of((await hand_out(request, get_api_settings().embedder, 1, []))[0])
    except pairs.NotEnoughMemes:
        return None


async def _rating(request: Request, body: bytes) -> Response | None:
    try:
        rating = RatingIn.model_validate_json(body)
    except ValidationError:
        return None  # FastAPI's 422, naming the field
    try:
        stored = await store_and_maybe_retrain(request, [rating], get_api_settings())
    except HTTPException as error:  # nothing was stored
        return await http_exception_handler(request, error)
    return json_of(stored[0], status_code=201)


def _is_json(scope: Scope) -> bool:
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
    return content_type.split(b";")[0].strip().lower() == b"application/json"


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once more, for the route when this could not answer."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
