"""Labelling memes good/bad and the report of a model version."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import TrainingMetric

from tests.api.helpers import add_memes, add_model, add_scores


def test_labels_then_report_gives_auroc_and_plots(any_client: TestClient) -> None:
    ids = add_memes(10)
    model = add_model()
    add_scores(model, {meme_id: float(i) for i, meme_id in enumerate(ids)})
    with session_scope() as session:
        session.add_all(
            TrainingMetric(model_version_id=model, step=s, train_loss=1 / (s + 1), val_loss=0.8) for s in range(5)
        )
    seen = set()
    for i in range(10):
        meme = any_client.get("/api/evaluation/next").json()["meme"]
        assert meme["id"] not in seen
        seen.add(meme["id"])
        rank = ids.index(meme["id"])
        # The top half is good except one swap, so AUROC is 1 - 1/25.
        good = (rank >= 5) != (rank in (4, 5))
        body = any_client.post("/api/evaluation/labels", json={"meme_id": meme["id"], "good": good}).json()
        assert body["labelled"] == i + 1
    assert any_client.get("/api/evaluation/next").status_code == 404
    report = any_client.get("/api/evaluation/report").json()
    assert report["auroc"] == 0.96 and report["rests_on"] == 10 and report["labelled"] == 10
    assert report["precision_at_top"]["0.1"] == 1.0
    page = any_client.get("/evaluate/report").text
    assert 'AUROC <b id="auroc">0.960</b>' in page and page.count("<svg") == 3


def test_labels_can_be_undone_and_bad_ones_are_422(client: TestClient) -> None:
    ids = add_memes(2)
    client.post("/api/evaluation/labels", json={"meme_id": ids[0], "good": True})
    assert client.delete(f"/api/evaluation/labels/{ids[0]}").json()["labelled"] == 0
    assert client.delete(f"/api/evaluation/labels/{ids[0]}").status_code == 404
    response = client.post("/api/evaluation/labels", json={"meme_id": 999, "good": True})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "meme_id"]
    assert client.post("/api/evaluation/labels", json={"meme_id": ids[0], "good": "maybe"}).status_code == 422


def test_report_without_a_model_is_404_and_the_page_says_so(client: TestClient) -> None:
    assert client.get("/api/evaluation/report").status_code == 404
    assert "No model to evaluate yet" in client.get("/evaluate/report").text


def test_memes_in_ratings_are_never_offered_for_labelling(any_client: TestClient) -> None:
    ids = add_memes(6)
    for a, b in [(ids[0], ids[1]), (ids[2], ids[0])]:
        assert any_client.post("/api/ratings", json={"a": a, "b": b, "choice": "a"}).status_code == 201
    offered = set()
    for _ in range(3):
        meme = any_client.get("/api/evaluation/next").json()["meme"]
        offered.add(meme["id"])
        any_client.post("/api/evaluation/labels", json={"meme_id": meme["id"], "good": True})
    assert offered == set(ids[3:])
    response = any_client.get("/api/evaluation/next")
    assert response.status_code == 404 and "labelled or rated" in response.json()["detail"]


def test_the_report_leaves_out_labels_on_memes_rated_since_and_says_so(any_client: TestClient) -> None:
    ids = add_memes(8)
    model = add_model()
    add_scores(model, {meme_id: float(i) for i, meme_id in enumerate(ids[:7])})  # the last is not scored
    verdicts = [False, True, False, True, True, False, True, True]
    for meme_id, good in zip(ids, verdicts, strict=True):
        any_client.post("/api/evaluation/labels", json={"meme_id": meme_id, "good": good})
    # Counting every label, AUROC would be 8/12; the lowest and the highest scored memes are then
    # rated (the model learns from them), which leaves good 1, 3, 4 against bad 2, 5: 2/6.
    any_client.post("/api/ratings", json={"a": ids[0], "b": ids[6], "choice": "b"})
    report = any_client.get("/api/evaluation/report").json()
    assert report["auroc"] == pytest.approx(1 / 3)
    assert (report["labelled"], report["rests_on"]) == (8, 5)
    assert report["left_out"] == {"rated since labelled": 2, "not scored by this model": 1}
    assert sum(band["labelled"] for band in report["bands"]) == 5
    page = any_client.get("/evaluate/report").text
    assert 'rests on <b id="rests-on">5</b> of 8 labels' in page
    assert "left out: 2 rated since labelled, 1 not scored by this model" in page
