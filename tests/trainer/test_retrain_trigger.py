"""The API's retrain decision against what the trainer recorded: ratings through the real API (SQLite and
PostgreSQL), retrain requests counted on the real Redis queue, the trainer's job on the same database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_api.settings import get_api_settings
from memethresher_shared import coordination
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion, Rating
from memethresher_shared.settings import get_settings
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy import select

from tests.api.helpers import BASE_URL, add_memes

EVERY = 5


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_RETRAIN_EVERY", str(EVERY))
    monkeypatch.setenv("MEMETHRESHER_ENSEMBLE_MEMBERS", "4")
    return request.getfixturevalue("env" if request.param == "sqlite" else "pg_env")


@pytest.fixture
def client(any_env) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(), base_url=BASE_URL) as test_client:
        yield test_client


def train() -> dict:
    with session_scope() as session:
        return jobs.train(session, get_trainer_settings(), get_settings().embedder)


def add_rating_rows(pairs: list[tuple[int, int]], axis: str = "overall") -> None:
    with session_scope() as session:
        session.add_all(Rating(a_id=a, b_id=b, choice="a", axis=axis) for a, b in pairs)


def rate(client: TestClient, a: int, b: int) -> None:
    assert client.post("/api/ratings", json={"a": a, "b": b, "choice": "b"}).status_code == 201


def retrains_queued(redis_conn: redis.Redis) -> int:
    return int(redis_conn.llen("train"))


def test_ratings_the_model_cannot_use_do_not_make_every_rating_ask_for_a_retrain(
    client: TestClient, redis_conn: redis.Redis
) -> None:
    embedded = add_memes(12)
    waiting = add_memes(6, embedded=False, start=100)  # crawled, not embedded under this encoder yet
    add_rating_rows([(embedded[i], embedded[i + 1]) for i in range(11)])
    add_rating_rows([(waiting[i % 6], waiting[(i + 1) % 6]) for i in range(4 * EVERY)])
    assert train()["status"] == "trained"
    for i in range(EVERY - 1):
        rate(client, waiting[i % 6], waiting[(i + 2) % 6])
        assert retrains_queued(redis_conn) == 0, f"rating {i + 1} after the training asked for a retrain"
    rate(client, embedded[0], embedded[5])
    assert retrains_queued(redis_conn) == 1  # the `every`-th since the training


def test_extra_axes_are_rated_beside_overall_and_all_of_them_train(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny", "useful"]')
    get_api_settings.cache_clear()
    get_trainer_settings.cache_clear()
    ids = add_memes(10)
    assert '"axes": ["overall", "funny", "useful"]' in client.get("/rate").text
    for i in range(9):
        body = [{"a": ids[i], "b": ids[i + 1], "choice": c, "axis": axis}
                for c, axis in (("a", "overall"), ("b", "funny"), ("tie", "useful"))]  # fmt: skip
        response = client.post("/api/ratings/batch", json={"ratings": body})
        assert response.status_code == 201, response.text
    unknown = client.post("/api/ratings", json={"a": ids[0], "b": ids[2], "choice": "a", "axis": "clever"})
    assert unknown.status_code == 422 and "clever" in unknown.text
    result = train()
    assert result["status"] == "trained" and result["metrics"]["pairs"] == 27
    with session_scope() as session:
        version = session.execute(select(ModelVersion)).scalar_one()
    assert version.config["axes"] == ["overall", "funny", "useful"]


def test_a_retrain_request_is_sent_once_however_often_it_is_asked(redis_conn: redis.Redis, env) -> None:  # type: ignore[no-untyped-def]
    encoder = get_settings().embedder
    assert coordination.request_retrain(redis_conn, encoder)
    assert not coordination.request_retrain(redis_conn, encoder)
    coordination.clear_retrain_request(redis_conn, encoder)  # what a starting training does
    assert coordination.request_retrain(redis_conn, encoder)
    assert retrains_queued(redis_conn) == 2


def test_pinning_an_unknown_version_is_a_404_that_names_it(client: TestClient) -> None:
    for method in ("POST", "DELETE"):
        response = client.request(method, "/api/models/4242/pin")
        assert response.status_code == 404 and "no model version 4242" in response.text
