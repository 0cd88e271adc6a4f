"""The rating history against a real database (SQLite and PostgreSQL): listing with filters and pages,
changing and undoing any rating, and edits that bring the next retrain closer (real Redis queue, the
trainer's job on the same database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair, Rating

from tests.api.helpers import add_batch, add_memes, add_model
from tests.trainer import test_retrain_trigger
from tests.trainer.test_retrain_trigger import EVERY, retrains_queued, train

# The retrain tests' settings (a retrain every EVERY ratings, a small ensemble) and fixtures: the app
# on SQLite and again on PostgreSQL.
any_env, client = test_retrain_trigger.any_env, test_retrain_trigger.client


def rate(client: TestClient, a: int, b: int, choice: str = "a", pair_id: int | None = None) -> dict:
    response = client.post("/api/ratings", json={"a": a, "b": b, "choice": choice, "pair_id": pair_id})
    assert response.status_code == 201, response.text
    return response.json()


def listed(client: TestClient, **params: object) -> list[int]:
    response = client.get("/api/ratings", params=params)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["ratings"]]


def add_rating_rows(pairs: list[tuple[int, int]]) -> list[int]:
    with session_scope() as session:
        rows = [Rating(a_id=a, b_id=b, choice="a") for a, b in pairs]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_the_history_shows_both_memes_and_where_each_pair_came_from(client: TestClient) -> None:
    ids = add_memes(4)
    _, pairs = add_batch(add_model(), [(ids[2], ids[3])], strategy="bald")
    random_one = rate(client, ids[0], ids[1], "b+")
    asked = rate(client, ids[2], ids[3], "tie", pair_id=pairs[0])
    body = client.get("/api/ratings").json()
    newest, older = body["ratings"]
    assert (newest["id"], newest["choice"], newest["origin"], newest["strategy"]) == (
        asked["id"],
        "tie",
        "acquisition",
        "bald",
    )
    assert newest["batch_id"] is not None and newest["pair_id"] == pairs[0]
    assert (older["id"], older["origin"], older["batch_id"], older["strategy"]) == (
        random_one["id"],
        "random",
        None,
        None,
    )
    assert older["a"]["thumb_url"] == f"/api/memes/{ids[0]}/thumb/1024"
    assert older["b"]["title"] == "meme 1"
    assert client.get(older["a"]["thumb_url"]).headers["content-type"] == "image/jpeg"
    assert body["next_before"] is None


def test_pages_follow_the_cursor_without_gaps_or_repeats(client: TestClient) -> None:
    ids = add_memes(6)
    stored = [rate(client, ids[i % 6], ids[(i + 1) % 6])["id"] for i in range(7)]
    seen, before = [], None
    while True:
        page = client.get("/api/ratings", params={"limit": 3} | ({"before": before} if before else {})).json()
        seen += [r["id"] for r in page["ratings"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == stored[::-1]
    too_many = client.get("/api/ratings", params={"limit": 10_000})
    assert too_many.status_code == 422 and "limit" in too_many.text


def test_filters_narrow_the_history(client: TestClient) -> None:
    ids = add_memes(5)
    _, pairs = add_batch(add_model(), [(ids[3], ids[4])])
    first = rate(client, ids[0], ids[1], "a")["id"]
    second = rate(client, ids[1], ids[2], "b")["id"]
    asked = rate(client, ids[3], ids[4], "b", pair_id=pairs[0])["id"]
    assert listed(client, choice="b") == [asked, second]
    assert listed(client, origin="random") == [second, first]
    assert listed(client, origin="acquisition") == [asked]
    assert listed(client, meme=ids[1]) == [second, first]
    assert listed(client, axis="overall", choice="a") == [first]
    assert listed(client, axis="funny") == []
    with session_scope() as session:  # the first one rated yesterday
        session.get_one(Rating, first).created_at = datetime.now(UTC) - timedelta(days=1)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert listed(client, since=today.isoformat()) == [asked, second]
    assert listed(client, until=today.isoformat()) == [first]
    assert listed(client, since=today.replace(tzinfo=None).isoformat()) == [asked, second]  # no zone: UTC
    bad = client.get("/api/ratings", params={"choice": "maybe"})
    assert bad.status_code == 422 and "choice" in bad.text


def test_any_rating_can_be_changed_and_undone_and_it_stays_so(client: TestClient) -> None:
    ids = add_memes(6)
    _, pairs = add_batch(add_model(), [(ids[4], ids[5])])
    first = rate(client, ids[0], ids[1], "a")["id"]
    second = rate(client, ids[2], ids[3], "a")["id"]
    asked = rate(client, ids[4], ids[5], "a", pair_id=pairs[0])["id"]
    changed = client.patch(f"/api/ratings/{first}", json={"choice": "b+"})
    assert changed.status_code == 200 and changed.json()["choice"] == "b+"
    assert client.delete(f"/api/ratings/{second}").status_code == 200
    assert client.delete(f"/api/ratings/{asked}").status_code == 200
    assert listed(client) == [first]
    assert client.get("/api/ratings").json()["ratings"][0]["choice"] == "b+"
    with session_scope() as session:  # an undone acquisition pair is asked again
        assert session.get_one(AcquisitionPair, pairs[0]).status == "pending"


def test_a_bad_change_is_refused_and_changes_nothing(client: TestClient) -> None:
    ids = add_memes(2)
    rating = rate(client, ids[0], ids[1], "a")["id"]
    bad = client.patch(f"/api/ratings/{rating}", json={"choice": "maybe"})
    assert bad.status_code == 422 and "choice" in bad.text
    assert client.get("/api/ratings").json()["ratings"][0]["choice"] == "a"
    for method, body in (("PATCH", {"choice": "b"}), ("DELETE", None)):
        missing = client.request(method, "/api/ratings/4242", json=body)
        assert missing.status_code == 404 and "no rating 4242" in missing.text


def test_changes_and_undos_bring_the_next_retrain_like_new_ratings(client: TestClient, redis_conn: redis.Redis) -> None:
    ids = add_memes(2 * EVERY + 1)
    stored = add_rating_rows([(ids[i], ids[i + 1]) for i in range(2 * EVERY)])  # not through the API: none asked yet
    assert train()["status"] == "trained"
    for step, rating in enumerate(stored[: EVERY - 1]):
        assert client.patch(f"/api/ratings/{rating}", json={"choice": "b"}).status_code == 200
        assert retrains_queued(redis_conn) == 0, f"edit {step + 1} after the training asked for a retrain"
    assert client.delete(f"/api/ratings/{stored[-1]}").status_code == 200
    assert retrains_queued(redis_conn) == 1  # the `every`-th edit since the training


def test_a_training_after_a_change_learns_it_rather_than_skipping(client: TestClient) -> None:
    ids = add_memes(6)
    stored = [rate(client, ids[i], ids[i + 1], "a")["id"] for i in range(5)]
    first = train()
    assert first["status"] == "trained"
    assert train()["status"] == "skipped"  # nothing new: a redelivered task trains nothing
    assert client.patch(f"/api/ratings/{stored[0]}", json={"choice": "b+"}).status_code == 200
    again = train()
    assert again["status"] == "trained" and again["model_version_id"] != first["model_version_id"]
