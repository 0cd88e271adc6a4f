"""A fake Hugging Face Hub (the outside world) over real HTTP: serves files of one repo at one commit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """`files[(repo, filename)] = bytes`; `downloads` counts the GETs of each file."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.downloads: dict[str, int] = {}

    def app(self) -> Starlette:
        route = Route("/{repo:path}/resolve/{revision}/{filename}", self.resolve, methods=["GET", "HEAD"])
        return Starlette(routes=[route])

    async def resolve(self, request: Request) -> Response:
        key = (request.path_params["repo"], request.path_params["filename"])
        if key not in self.files:
            return Response(status_code=404, headers={"X-Error-Code": "EntryNotFound"})
        data = self.files[key]
        # Large files are served as LFS: the etag is the content's sha256, as on the real hub.
        headers = {"X-Repo-Commit": COMMIT, "X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"',
                   "X-Linked-Size": str(len(data))}  # fmt: skip
        if request.method == "HEAD":
            return Response(headers={**headers, "Content-Length": str(len(data))})
        self.downloads[key[1]] = self.downloads.get(key[1], 0) + 1
        return Response(data, headers=headers, media_type="application/octet-stream")


@contextmanager
def serve_hub() -> Iterator[tuple[FakeHub, str]]:
    hub = FakeHub()
    server = LoopbackServer("fake-hub")
    server.serve(hub.app())
    try:
        yield hub, server.base_url
    finally:
        server.shut()
