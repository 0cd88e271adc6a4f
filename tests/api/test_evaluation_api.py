"""Labelling memes good/bad and the report of a model version."""

from __future__ import annotations

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
    assert report["auroc"] == 0.96 and report["scored_labelled"] == 10
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
