"""The curation queue by rating axis: ordered by one axis' scores, narrowed to what one axis queued."""

from __future__ import annotations

from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import CurationItem, Rating

from tests.api.helpers import add_memes, add_model, add_scores


def queue(overall: list[float], funny: list[float], queued_by: list[str]) -> list[int]:
    ids = add_memes(len(overall))
    model = add_model()
    add_scores(model, dict(zip(ids, overall, strict=True)))
    add_scores(model, dict(zip(ids, funny, strict=True)), axis="funny")
    with session_scope() as session:
        for meme_id, axis, score in zip(ids, queued_by, overall, strict=True):
            session.add(CurationItem(meme_id=meme_id, model_version_id=model, score=score, axis=axis))
    return ids


def test_the_queue_sorts_by_the_chosen_axis_and_shows_every_axis_score(funny_client: TestClient) -> None:
    ids = queue([0.9, 0.1, 0.5, 0.4], [0.2, 0.8, 0.3, 0.6], ["overall", "funny", "overall", "funny"])
    overall = funny_client.get("/api/curation/next").json()
    assert (overall["meme"]["id"], overall["score"], overall["score_axis"]) == (ids[0], 0.9, "overall")
    assert overall["scores"] == {"overall": 0.9, "funny": 0.2} and overall["axis"] == "overall"
    funny = funny_client.get("/api/curation/next", params={"axis": "funny"}).json()
    assert (funny["meme"]["id"], funny["score"], funny["score_axis"]) == (ids[1], 0.8, "funny")
    # Funny's own top half: 0.3 on funny is below it, so that meme waits, saying so on which axis.
    order = []
    for _ in ids:
        item = funny_client.get("/api/curation/next", params={"axis": "funny"}).json()
        order.append((item["meme"]["id"], item["sunk_reason"]))
        funny_client.post(f"/api/curation/{item['id']}/discard")
    assert [meme for meme, _ in order] == [ids[1], ids[3], ids[2], ids[0]]
    assert order[1][1] is None and "on funny, below the curation threshold" in (order[2][1] or "")


def test_the_queue_narrows_to_what_one_axis_queued(funny_client: TestClient) -> None:
    ids = queue([0.9, 0.1, 0.5], [0.2, 0.8, 0.3], ["overall", "funny", "overall"])
    narrowed = funny_client.get("/api/curation/next", params={"queued_by": "funny"}).json()
    assert (narrowed["meme"]["id"], narrowed["pending"], narrowed["axis"]) == (ids[1], 1, "funny")
    funny_client.post(f"/api/curation/{narrowed['id']}/discard")
    assert funny_client.get("/api/curation/next", params={"queued_by": "funny"}).status_code == 404
    assert funny_client.get("/api/curation/next", params={"queued_by": "overall"}).json()["pending"] == 2


def test_an_unknown_axis_is_refused_naming_the_configured_ones(funny_client: TestClient) -> None:
    queue([0.5], [0.5], ["overall"])
    for param in ("axis", "queued_by"):
        response = funny_client.get("/api/curation/next", params={param: "useful"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", param]
        assert "configured: ['overall', 'funny']" in response.json()["detail"][0]["msg"]


def test_stats_and_dashboard_count_each_axis(funny_client: TestClient) -> None:
    ids = queue([0.9, 0.1, 0.5], [0.2, 0.8, 0.3], ["overall", "funny", "overall"])
    with session_scope() as session:
        session.add_all(
            Rating(a_id=ids[0], b_id=ids[1], choice="a", axis=axis) for axis in ("overall", "funny", "funny")
        )
    stats = funny_client.get("/api/stats").json()
    assert stats["ratings_by_axis"] == {"overall": 1, "funny": 2} and stats["ratings"] == 3
    assert stats["scored_by_axis"] == {"overall": 3, "funny": 3} and stats["scored"] == 3
    assert stats["curation_queued_by_axis"] == {"overall": 2, "funny": 1}
    dashboard = funny_client.get("/dashboard").text
    assert "<tr><td>funny</td><td>2</td><td>3</td><td>1</td></tr>" in dashboard
