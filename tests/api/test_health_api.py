"""/healthz fails, saying which, when a folder the API writes cannot be written; thumbnails are
still shown when only the configured thumbnail cache cannot be.

The tests run as root, which ignores permission bits, so a folder is made unwritable the way no
user can write it: a regular file stands where the folder (or its parent) should be."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_api.settings import get_api_settings

from tests.api.helpers import BASE_URL, add_memes
from tests.conftest import reset_all


def blocked(path: Path) -> Path:
    """A folder path below a regular file: mkdir and every write there fail, even for root."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a file, not a folder")
    return path / "folder"


@pytest.fixture
def app_with(env, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[no-untyped-def]
    """Start the app after setting the given `MEMETHRESHER_*` variables."""
    clients: list[TestClient] = []

    def start(**variables: str) -> TestClient:
        for name, value in variables.items():
            monkeypatch.setenv(f"MEMETHRESHER_{name}", value)
        reset_all()
        get_api_settings.cache_clear()
        client = TestClient(create_app(), base_url=BASE_URL)
        clients.append(client.__enter__())
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def test_healthz_is_green_when_every_folder_can_be_written(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["folders"] == []


@pytest.mark.parametrize(("setting", "name"), [("LIBRARY_DIR", "library folder"), ("STORAGE", "image store")])
def test_healthz_fails_naming_a_folder_that_cannot_be_written(  # type: ignore[no-untyped-def]
    app_with, tmp_path: Path, setting: str, name: str
) -> None:
    folder = blocked(tmp_path / "taken")
    response = app_with(**{setting: str(folder)}).get("/healthz")
    assert response.status_code == 503
    (problem,) = response.json()["folders"]
    assert problem.startswith(f"the {name}: {folder} cannot be written")


def test_thumbnails_are_shown_when_their_cache_cannot_be_written(  # type: ignore[no-untyped-def]
    app_with, env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only root filesystem without a volume at <data>/thumbnails: the cache moves to the temp folder.
    (env.root / "thumbnails").write_text("a file, not a folder")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    client = app_with()
    (meme_id,) = add_memes(1, photos=True)
    thumb = client.get(f"/api/memes/{meme_id}/thumb/256")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert list((tmp_path / "temp" / "memethresher-thumbnails" / "256").rglob("*.jpg"))
    assert client.get("/healthz").status_code == 200


def test_healthz_fails_when_no_thumbnail_cache_can_be_written(  # type: ignore[no-untyped-def]
    app_with, env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (env.root / "thumbnails").write_text("a file, not a folder")
    temp = tmp_path / "temp"
    blocked(temp / "memethresher-thumbnails")
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # the temp folder the process was given
    response = app_with().get("/healthz")
    assert response.status_code == 503
    (problem,) = response.json()["folders"]
    assert problem.startswith("the thumbnail cache: ") and "memethresher-thumbnails" in problem
