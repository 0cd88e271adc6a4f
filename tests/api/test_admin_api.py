"""Sources, models, failed memes and the dashboard: what they change and what they enqueue."""

from __future__ import annotations

import json

import redis
from fastapi.testclient import TestClient
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, ModelVersion

from tests.api.helpers import add_memes, add_model


def queued_tasks(conn: redis.Redis, queue: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting on a Celery queue."""
    messages = [json.loads(raw) for raw in conn.lrange(queue, 0, -1)]
    return [(m["headers"]["task"], json.loads(__import__("base64").b64decode(m["body"]))[0]) for m in messages]


def test_sources_are_added_validated_toggled_and_crawled(
    any_client: TestClient, redis_conn: redis.Redis, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    response = any_client.post(
        "/api/sources", json={"kind": "reddit", "target": "r/Memes+dankmemes", "options": {"sort": "top"}}
    )
    assert response.status_code == 201, response.text
    source = response.json()
    assert (source["target"], source["sort"], source["time_window"], source["enabled"]) == (
        "r/memes+dankmemes",
        "top",
        "day",
        True,
    )
    again = any_client.post("/api/sources", json={"kind": "reddit", "target": "r/memes+dankmemes",
                                                  "options": {"sort": "top", "time": "day"}})  # fmt: skip
    assert again.status_code == 200 and again.json()["already_there"] and again.json()["id"] == source["id"]
    newest = any_client.post("/api/sources", json={"kind": "reddit", "target": "r/memes+dankmemes"})
    assert newest.status_code == 201 and newest.json()["sort"] == "new"  # another sort: another source
    folder = any_client.post("/api/sources", json={"kind": "folder", "target": str(tmp_path)})
    assert folder.status_code == 201
    bad = any_client.post("/api/sources", json={"kind": "reddit", "target": "r/no spaces allowed"})
    assert bad.status_code == 422 and "invalid subreddit" in bad.json()["detail"][0]["msg"]
    assert any_client.post("/api/sources", json={"kind": "ftp", "target": "x"}).json()["detail"][0]["loc"][-1] == "kind"
    bad_option = any_client.post(
        "/api/sources", json={"kind": "reddit", "target": "r/memes", "options": {"sort": "best"}}
    )
    assert bad_option.status_code == 422 and bad_option.json()["detail"][0]["loc"] == ["body", "options"]
    disabled = any_client.patch(f"/api/sources/{source['id']}", json={"enabled": False}).json()
    assert disabled["enabled"] is False
    assert [s["enabled"] for s in any_client.get("/api/sources").json()] == [False, True, True]
    assert any_client.post(f"/api/sources/{source['id']}/crawl").json()["queued"] is True
    assert queued_tasks(redis_conn, "crawl") == [(tasks.CRAWL_SOURCE, [source["id"]])]
    assert any_client.post("/api/sources/4242/crawl").status_code == 404


def test_models_make_current_and_queue_work(client: TestClient, redis_conn: redis.Redis) -> None:
    first = add_model()
    second = add_model()
    listed = client.get("/api/models").json()
    assert [(m["id"], m["is_current"]) for m in listed] == [(second, True), (first, False)]
    switched = client.post(f"/api/models/{first}/current")
    assert switched.status_code == 202 and switched.json()["queued"] is True
    # The trainer switches under its training lock (then rescores); the API only asks.
    assert queued_tasks(redis_conn, "train") == [(tasks.MAKE_CURRENT, [first])]
    with session_scope() as session:
        assert [m.id for m in session.query(ModelVersion).filter_by(is_current=True)] == [second]
    assert client.post("/api/models/4242/current").status_code == 404
    redis_conn.delete("train")
    assert client.post("/api/models/retrain").json()["queued"] is True
    assert client.post("/api/models/retrain").json() == {
        "queued": False,
        "detail": "a retrain is already queued",
    }
    client.post("/api/models/rescore")
    client.post("/api/models/sweep")
    assert sorted(name for name, _ in queued_tasks(redis_conn, "train")) == sorted([tasks.TRAIN, tasks.SWEEP])
    assert queued_tasks(redis_conn, "score") == [(tasks.SCORE_ALL, [])]


def test_a_failed_meme_can_be_retried(client: TestClient, redis_conn: redis.Redis) -> None:
    (meme_id,) = add_memes(1, embedded=False)
    with session_scope() as session:
        meme = session.get_one(Meme, meme_id)
        meme.status, meme.failure_reason = "failed", "cannot decode: truncated file"
    assert client.get("/api/memes/failed").json() == [
        {"id": meme_id, "title": "meme 0", "reason": "cannot decode: truncated file"}
    ]
    assert client.post(f"/api/memes/{meme_id}/retry").json()["queued"] is True
    assert client.get("/api/memes/failed").json() == []
    name, args = queued_tasks(redis_conn, "embed")[0]
    assert name == tasks.EMBED_BATCH and args[0] == [meme_id]


def test_dashboard_reads_queue_depths_and_counts(client: TestClient, redis_conn: redis.Redis) -> None:
    add_memes(3)
    add_model()
    client.post("/api/models/rescore")
    data = client.get("/api/dashboard").json()
    assert data["broker_reachable"] is True
    assert data["queues"] == {"crawl": 0, "embed": 0, "train": 0, "score": 1}
    assert data["workers"] == []  # nobody is consuming in this test
    assert data["stats"]["embedded"] == 3
    page = client.get("/dashboard").text
    assert "<td>3</td>" in page
