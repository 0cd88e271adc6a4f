"""Keeping, discarding and undoing on the curation queue, with the library folder checked."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_shared.store import get_store

from tests.api.helpers import BASE_URL, add_memes, add_model, add_scores, image_bytes, set_vector, unit_vector


def setup_queue(scores: list[float]) -> list[int]:
    ids = add_memes(len(scores))
    add_scores(add_model(), dict(zip(ids, scores, strict=True)), curate=True)
    return ids


def test_highest_score_first_then_keep_copies_under_a_safe_name(any_client: TestClient, any_env) -> None:  # type: ignore[no-untyped-def]
    ids = setup_queue([0.2, 0.9, 0.5])
    item = any_client.get("/api/curation/next").json()
    assert (item["meme"]["id"], item["score"], item["spread"], item["pending"]) == (ids[1], 0.9, 0.1, 3)
    kept = any_client.post(f"/api/curation/{item['id']}/keep", json={"name": "My Best  Meme/../x"}).json()
    assert kept["status"] == "kept" and kept["library_path"] == "My-Best-Meme..x.png"
    assert (any_env.library / "My-Best-Meme..x.png").read_bytes() == image_bytes(1)
    following = any_client.get("/api/curation/next").json()
    assert following["meme"]["id"] == ids[2]
    second = any_client.post(f"/api/curation/{following['id']}/keep", json={"name": "my best meme"}).json()
    third_item = any_client.get("/api/curation/next").json()
    third = any_client.post(f"/api/curation/{third_item['id']}/keep", json={"name": "my best meme"}).json()
    assert (second["library_path"], third["library_path"]) == ("my-best-meme.png", "my-best-meme-2.png")
    assert sorted(os.listdir(any_env.library)) == [
        "My-Best-Meme..x.png",
        "my-best-meme-2.png",
        "my-best-meme.png",
    ]
    assert any_client.get("/api/stats").json()["library"] == 3
    assert any_client.get("/api/curation/next").status_code == 404


def test_a_name_with_nothing_usable_is_422_and_nothing_is_written(client: TestClient, env) -> None:  # type: ignore[no-untyped-def]
    setup_queue([0.5])
    item = client.get("/api/curation/next").json()
    response = client.post(f"/api/curation/{item['id']}/keep", json={"name": "../.."})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "name"]
    assert client.post(f"/api/curation/{item['id']}/keep", json={"name": ""}).status_code == 422
    assert os.listdir(env.library) == []
    assert client.get("/api/curation/next").json()["status"] == "pending"


def test_undo_brings_back_the_last_decision_and_removes_its_file(client: TestClient, env) -> None:  # type: ignore[no-untyped-def]
    ids = setup_queue([0.9, 0.5])
    first = client.get("/api/curation/next").json()
    client.post(f"/api/curation/{first['id']}/keep", json={"name": "keeper"})
    second = client.get("/api/curation/next").json()
    assert client.post(f"/api/curation/{second['id']}/discard").json()["status"] == "discarded"
    assert client.post(f"/api/curation/{second['id']}/discard").status_code == 409
    undone = client.post("/api/curation/undo").json()
    assert (undone["meme"]["id"], undone["status"]) == (ids[1], "pending")
    assert os.listdir(env.library) == ["keeper.png"]
    undone = client.post("/api/curation/undo").json()
    assert (undone["meme"]["id"], undone["status"], undone["library_path"]) == (ids[0], "pending", None)
    assert os.listdir(env.library) == []
    assert client.post("/api/curation/undo").status_code == 404
    assert client.get("/api/curation/next").json()["meme"]["id"] == ids[0]


def test_a_near_duplicate_of_a_kept_meme_is_flagged(client: TestClient) -> None:
    ids = setup_queue([0.9, 0.8, 0.7])
    base = unit_vector(100)
    set_vector(ids[0], base)
    set_vector(ids[1], base + 0.01 * unit_vector(101))  # almost the same picture
    set_vector(ids[2], unit_vector(102))
    first = client.get("/api/curation/next").json()
    assert first["near_duplicate"] is None
    client.post(f"/api/curation/{first['id']}/keep", json={"name": "original"})
    duplicate = client.get("/api/curation/next").json()
    assert duplicate["near_duplicate"]["id"] == ids[0] and duplicate["near_duplicate_cosine"] > 0.95
    client.post(f"/api/curation/{duplicate['id']}/discard")
    assert client.get("/api/curation/next").json()["near_duplicate"] is None


def test_keeping_a_meme_whose_image_vanished_is_a_clear_409(client: TestClient) -> None:
    ids = setup_queue([0.9])
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Meme

    with session_scope() as session:
        get_store().path(session.get_one(Meme, ids[0]).storage_key).unlink()
    item = client.get("/api/curation/next").json()
    response = client.post(f"/api/curation/{item['id']}/keep", json={"name": "gone"})
    assert response.status_code == 409 and "missing" in response.json()["detail"][0]["msg"]


def test_a_newer_model_reranks_the_queue_and_sinks_what_it_no_longer_rates_highly(
    any_env,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("MEMETHRESHER_CURATION_TOP_FRACTION", "0.5")
    ids = add_memes(7)
    older = add_model()
    add_scores(older, {ids[0]: 0.9, ids[1]: 0.8, ids[2]: 0.7, ids[6]: 0.99}, curate=True)
    newer = add_model()  # now current; it has not scored ids[6]
    new_scores = [0.1, 0.95, 0.9, 0.85, 0.0, -0.1]  # top half: 0.95, 0.9, 0.85
    add_scores(newer, dict(zip(ids[:6], new_scores, strict=True)))
    seen = []
    with TestClient(create_app(), base_url=BASE_URL) as client:
        for _ in range(4):
            item = client.get("/api/curation/next").json()
            seen.append((item["meme"]["id"], item["score"], item["scored_by_version_id"], item["sunk_reason"]))
            assert item["queued_by_version_id"] == older and item["pending"] == 4 - len(seen) + 1
            client.post(f"/api/curation/{item['id']}/discard")
    assert [row[:3] for row in seen] == [
        (ids[1], 0.95, newer),
        (ids[2], 0.9, newer),
        (ids[6], 0.99, older),  # never scored by the current model: after those it ranks highly
        (ids[0], 0.1, newer),
    ]
    assert seen[0][3] is None and seen[1][3] is None
    assert seen[2][3] == f"the current model v{newer} has not scored it"
    assert seen[3][3] == f"the current model v{newer} scores it 0.100, below the curation threshold 0.850 (its top 50%)"
