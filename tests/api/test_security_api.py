"""Auth off loopback, CSRF, escaping, images served by id, thumbnails cached."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_api.settings import get_api_settings
from PIL import Image

from tests.api.helpers import BASE_URL, Server, add_memes


def test_off_loopback_without_a_token_refuses_to_start(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_HOST", "0.0.0.0")
    get_api_settings.cache_clear()
    with pytest.raises(RuntimeError, match="MEMETHRESHER_API_TOKEN"):
        create_app()


@pytest.fixture
def guarded(env, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_HOST", "0.0.0.0")
    monkeypatch.setenv("MEMETHRESHER_API_TOKEN", "s3cret-token")
    get_api_settings.cache_clear()
    with TestClient(create_app(), base_url=BASE_URL) as client:
        yield client


def test_off_loopback_needs_the_token(guarded: TestClient) -> None:
    ids = add_memes(2)
    assert guarded.get("/api/stats").status_code == 401
    assert guarded.get("/healthz").status_code == 200
    page = guarded.get("/rate", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/rate"
    assert guarded.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get("/api/stats", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert guarded.post("/login", data={"token": "nope"}).status_code == 401
    login = guarded.post("/login", data={"token": "s3cret-token", "next": "//evil.example"}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/rate"
    assert "samesite=strict" in login.headers["set-cookie"].lower() and "s3cret" not in login.headers["set-cookie"]
    response = guarded.post("/api/ratings", json={"a": ids[0], "b": ids[1], "choice": "a"})
    assert response.status_code == 201


def test_a_token_with_non_ascii_characters_is_refused_with_a_message(guarded: TestClient) -> None:
    login = guarded.post("/login", data={"token": "s3cret-tökén"})
    assert login.status_code == 401 and "That token is not right." in login.text
    bearer = guarded.get("/api/stats", headers={"Authorization": "Bearer s3cret-t\u00f6ken".encode()})
    assert bearer.status_code == 401 and "authentication required" in bearer.json()["detail"]
    cookie = {"Cookie": "memethresher_session=caf\u00e9".encode()}
    assert guarded.get("/api/stats", headers=cookie).status_code == 401


def test_a_non_ascii_token_configured_works_as_sent(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_HOST", "0.0.0.0")
    monkeypatch.setenv("MEMETHRESHER_API_TOKEN", "mèmes-sécrets")
    get_api_settings.cache_clear()
    with TestClient(create_app(), base_url=BASE_URL) as client:
        assert client.post("/login", data={"token": "mèmes-sécrets"}, follow_redirects=False).status_code == 303
        assert client.get("/api/stats").status_code == 200
        client.cookies.clear()
        bearer = {"Authorization": "Bearer mèmes-sécrets".encode()}
        assert client.get("/api/stats", headers=bearer).status_code == 200


@pytest.fixture
def served(env) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    with Server(env.vars, env.root / "uvicorn.log") as running:
        yield running


def test_a_page_on_another_host_name_is_refused_even_from_its_own_origin(served: Server) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, so its page is same-origin with itself."""
    ids = add_memes(2)
    port = served.url.rsplit(":", 1)[1]
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    with httpx.Client(base_url=served.url, timeout=10) as http:
        refused = http.post("/api/ratings", json={"a": ids[0], "b": ids[1], "choice": "a"}, headers=rebound)
        assert refused.status_code == 400 and "'evil.example'" in refused.json()["detail"]
        assert http.get("/api/stats", headers={"Host": "evil.example"}).status_code == 400
        assert http.get("/rate", headers={"Host": f"EVIL.example:{port}"}).status_code == 400
        for name in ("127.0.0.1", "localhost", "[::1]"):
            assert http.get("/api/stats", headers={"Host": f"{name}:{port}"}).status_code == 200, name
        assert http.get("/api/stats").json()["ratings"] == 0


def test_host_names_can_be_configured(env) -> None:  # type: ignore[no-untyped-def]
    configured = {**env.vars, "MEMETHRESHER_ALLOWED_HOSTS": '["memes.home"]'}
    with Server(configured, env.root / "uvicorn.log") as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/api/stats", headers={"Host": "memes.home:8000"}).status_code == 200
        refused = http.get("/api/stats", headers={"Host": "localhost"})
        assert refused.status_code == 400 and "MEMETHRESHER_ALLOWED_HOSTS" in refused.json()["detail"]


def test_cross_site_state_changes_are_refused(client: TestClient) -> None:
    ids = add_memes(2)
    body = {"a": ids[0], "b": ids[1], "choice": "a"}
    assert client.post("/api/ratings", json=body, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/ratings", json=body, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    # A cross-site form can only send text/plain or form bodies: not a rating.
    form = client.post(
        "/api/ratings", content='{"a": 1, "b": 2, "choice": "a"}', headers={"Content-Type": "text/plain"}
    )
    assert form.status_code == 422
    assert client.get("/api/stats").json()["ratings"] == 0
    same = client.post("/api/ratings", json=body, headers={"Origin": BASE_URL})
    assert same.status_code == 201


def test_images_and_cached_thumbnails_by_id(client: TestClient, env) -> None:  # type: ignore[no-untyped-def]
    (meme_id,) = add_memes(1)
    original = client.get(f"/api/memes/{meme_id}/image")
    assert original.status_code == 200 and original.headers["content-type"] == "image/png"
    thumb = client.get(f"/api/memes/{meme_id}/thumb/256")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    cached = list((env.root / "thumbnails" / "256").rglob("*.jpg"))
    assert len(cached) == 1
    with Image.open(cached[0]) as image:
        assert image.size == (120, 90)  # never upscaled
    assert client.get(f"/api/memes/{meme_id}/thumb/300").status_code == 422
    assert client.get("/api/memes/9999/image").status_code == 404
    assert client.get("/api/memes/..%2F..%2Fetc/image").status_code in (404, 422)


def test_thumbnails_carry_an_etag_and_answer_304_from_memory(client: TestClient, env) -> None:  # type: ignore[no-untyped-def]
    (meme_id,) = add_memes(1)
    first = client.get(f"/api/memes/{meme_id}/thumb/256")
    etag = first.headers["etag"]
    assert "immutable" in first.headers["cache-control"]
    # Served again from memory: the cached file is not read (removing it changes nothing).
    for cached in (env.root / "thumbnails").rglob("*.jpg"):
        cached.unlink()
    again = client.get(f"/api/memes/{meme_id}/thumb/256")
    assert again.status_code == 200 and again.content == first.content and again.headers["etag"] == etag
    unchanged = client.get(f"/api/memes/{meme_id}/thumb/256", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    other = client.get(f"/api/memes/{meme_id}/thumb/256", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_a_corrupt_image_still_gets_a_clear_answer(client: TestClient, env) -> None:  # type: ignore[no-untyped-def]
    (meme_id,) = add_memes(1)
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Meme
    from memethresher_shared.store import get_store

    with session_scope() as session:
        get_store().path(session.get_one(Meme, meme_id).storage_key).write_bytes(b"not an image")
    response = client.get(f"/api/memes/{meme_id}/thumb/512")
    assert response.status_code == 404 and "cannot make a thumbnail" in response.json()["detail"][0]["msg"]


def test_pages_render_and_titles_are_escaped(client: TestClient) -> None:
    add_memes(2, title="<script>alert(1)</script>")
    for path in ("/rate", "/curate", "/evaluate", "/dashboard", "/sources", "/models", "/login"):
        response = client.get(path)
        assert response.status_code == 200 and "<script>alert(1)" not in response.text, path
    pair = client.get("/api/pairs/next").json()
    assert pair["a"]["title"] == "<script>alert(1)</script>"  # JSON as-is; the page sets it as text
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/pairs/next"]


def test_the_api_never_imports_torch_or_another_service(env) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    code = (
        "import sys; from memethresher_api.main import create_app; create_app(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'memethresher_trainer', 'memethresher_embedder', 'memethresher_crawler')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env.vars, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
