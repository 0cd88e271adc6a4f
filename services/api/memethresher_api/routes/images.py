"""Images by meme id: the stored original and cached thumbnails. No path ever comes from a request."""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme
from memethresher_shared.store import get_store
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from memethresher_api import folders, thumbnails
from memethresher_api.deps import IdPath, SettingsDep, field_error, in_thread
from memethresher_api.settings import ApiSettings

router = APIRouter(prefix="/api/memes", tags=["images"])
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
}
# Content-addressed: the bytes behind a meme id never change.
CACHE = {"Cache-Control": "private, max-age=31536000, immutable"}
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/*": {}}, "description": "The image"},
    404: {"description": "No such meme"},
}
THUMB_RESPONSES: dict[int | str, dict[str, Any]] = {
    **IMAGE_RESPONSES,
    304: {"description": "Not modified (the ETag in If-None-Match matches)"},
}


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    etag: str


class RecentThumbnails:
    """Thumbnail bytes recently served, kept in memory (bounded, least recently used out first), so a
    repeat is answered on the event loop with no database lookup, thread or file read. Held by the
    app (`app.state.thumbnails`), not the module. Safe to keep: a meme's bytes never change."""

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[int, int], Thumbnail] = OrderedDict()

    def get(self, meme_id: int, size: int) -> Thumbnail | None:
        item = self._items.get((meme_id, size))
        if item is not None:
            self._items.move_to_end((meme_id, size))
        return item

    def put(self, meme_id: int, size: int, item: Thumbnail) -> None:
        if len(item.data) > self.max_bytes // 16 or (meme_id, size) in self._items:
            return
        self._items[(meme_id, size)] = item
        self.bytes += len(item.data)
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped.data)


THUMB_PATH = re.compile(r"/api/memes/(\d{1,10})/thumb/(\d{1,5})")


class RecentThumbnailsFirst:
    """ASGI middleware: a thumbnail in `RecentThumbnails` is answered before routing. Every one in
    there was served by the route, so its id and size were checked then; routing, dependencies and
    FastAPI's request handling would cost more than the answer itself (two per rated pair)."""

    def __init__(self, app: ASGIApp, recent: RecentThumbnails) -> None:
        self.app = app
        self.recent = recent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = THUMB_PATH.fullmatch(scope["path"])
            item = self.recent.get(int(match[1]), int(match[2])) if match else None
            if item is not None:
                if_none_match = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None)
                await _thumbnail_response(item, if_none_match)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class ImageFacts:
    storage_key: str
    media_type: str
    sha256: str


@functools.lru_cache(maxsize=65536)
def image_facts(database_url: str, meme_id: int) -> ImageFacts:
    """Where a meme's image lives. Cached: a meme's bytes never change (the store is content-addressed)."""
    with session_scope() as session:
        row = session.execute(select(Meme.storage_key, Meme.format, Meme.sha256).where(Meme.id == meme_id)).first()
    if row is None:  # raised, not returned, so a meme added later is not hidden by the cache
        raise LookupError(meme_id)
    return ImageFacts(row.storage_key, MEDIA_TYPES.get(row.format.upper(), "application/octet-stream"), row.sha256)


async def _facts(meme_id: int, settings: ApiSettings) -> ImageFacts:
    try:
        # On the database threads, so lookups never need more connections than the pool keeps.
        return await in_thread(image_facts, settings.database_url, meme_id)
    except LookupError:
        field_error("path", "meme_id", f"no meme {meme_id}", status=404)


def _missing(meme_id: int) -> NoReturn:
    field_error("path", "meme_id", f"the image of meme {meme_id} is missing from the store", status=404)


@router.get("/{meme_id}/image", response_class=FileResponse, responses=IMAGE_RESPONSES)
async def image(meme_id: IdPath, settings: SettingsDep) -> FileResponse:
    facts = await _facts(meme_id, settings)
    path = get_store().path(facts.storage_key)
    if not path.exists():
        _missing(meme_id)
    return FileResponse(path, media_type=facts.media_type, headers=CACHE)


def _thumbnail_bytes(source: Path, cache_dir: Path, sha256: str, size: int) -> bytes:
    return thumbnails.cached_thumbnail(source, cache_dir, sha256, size).read_bytes()


def _thumbnail_response(item: Thumbnail, if_none_match: str | None) -> Response:
    headers = {**CACHE, "ETag": item.etag}
    if if_none_match and item.etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(item.data, media_type="image/jpeg", headers=headers)


@router.get("/{meme_id}/thumb/{size}", response_class=Response, responses=THUMB_RESPONSES)
async def thumbnail(meme_id: IdPath, size: int, settings: SettingsDep, request: Request) -> Response:
    """A JPEG thumbnail no larger than `size` (one of the configured sizes), made once and cached."""
    if size not in settings.thumbnail_sizes:
        field_error("path", "size", f"size must be one of {list(settings.thumbnail_sizes)}")
    # A thumbnail already in `RecentThumbnails` was answered by `RecentThumbnailsFirst`.
    facts = await _facts(meme_id, settings)
    source = get_store().path(facts.storage_key)
    cache_dir = folders.thumbnail_cache(folders.configured_thumbnail_cache(settings))
    try:
        data = await run_in_threadpool(_thumbnail_bytes, source, cache_dir, facts.sha256, size)
    except FileNotFoundError:
        _missing(meme_id)
    except OSError as error:  # Pillow cannot decode it: the original is still served
        field_error("path", "meme_id", f"cannot make a thumbnail of meme {meme_id}: {error}", status=404)
    item = Thumbnail(data, f'"{facts.sha256[:32]}-{size}"')
    request.app.state.thumbnails.put(meme_id, size, item)
    return _thumbnail_response(item, request.headers.get("if-none-match"))
