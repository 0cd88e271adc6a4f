"""API fixtures: the app on a fresh database (SQLite, or PostgreSQL where a test asks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_api.settings import get_api_settings

from tests.api.helpers import BASE_URL


@pytest.fixture(autouse=True)
def _fresh_api_settings() -> Iterator[None]:
    get_api_settings.cache_clear()
    yield
    get_api_settings.cache_clear()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_env(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The test runs on SQLite and again on a fresh PostgreSQL database."""
    return request.getfixturevalue("env" if request.param == "sqlite" else "pg_env")


@pytest.fixture
def client(env) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(), base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def any_client(any_env) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(), base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def funny_client(env, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app with a second rating axis, "funny", whose curation takes its top half."""
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny"]')
    monkeypatch.setenv("MEMETHRESHER_CURATION_TOP_FRACTION_BY_AXIS", '{"funny": 0.5}')
    with TestClient(create_app(), base_url=BASE_URL) as test_client:
        yield test_client
