"""Editing and removing sources through the API: what changes, what is refused and why."""

from __future__ import annotations

from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post, Source
from sqlalchemy import func, select


def _add(client: TestClient, kind: str, target: str, **options: object) -> dict:
    response = client.post("/api/sources", json={"kind": kind, "target": target, "options": options})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_source_is_edited_and_bad_edits_say_why(any_client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    memes = _add(any_client, "reddit", "r/memes", sort="top", time="week")
    with session_scope() as session:
        row = session.get(Source, memes["id"])
        assert row is not None
        row.crawl_state = {"gaps": ["t3_x"], "backfilled": True}
    changes = {"sort": "controversial", "interval_s": 600, "stream": True, "take_link_previews": False}
    edited = any_client.patch(f"/api/sources/{memes['id']}", json=changes)
    assert edited.status_code == 200, edited.text
    shown = edited.json()
    assert (shown["sort"], shown["time_window"], shown["interval_s"]) == ("controversial", "day", 600)
    assert shown["options"] == {"stream": True, "take_link_previews": False}
    with session_scope() as session:
        assert session.get(Source, memes["id"]).crawl_state == {"backfilled": True}  # type: ignore[union-attr]

    back = any_client.patch(f"/api/sources/{memes['id']}", json={"stream": None, "time": "month", "enabled": False})
    assert back.status_code == 200, back.text
    assert (back.json()["time_window"], back.json()["options"], back.json()["enabled"]) == (
        "month", {"take_link_previews": False}, False)  # fmt: skip

    def refused(source_id: int, body: dict, status: int = 422) -> str:
        response = any_client.patch(f"/api/sources/{source_id}", json=body)
        assert response.status_code == status, response.text
        return str(response.json())

    assert "time window applies only to sort" in refused(memes["id"], {"sort": "new", "time": "week"})
    assert "at least 60 seconds" in refused(memes["id"], {"interval_s": 5})
    assert "sort must be one of" in refused(memes["id"], {"sort": "best"})
    assert "unknown source option" in refused(memes["id"], {"watch": True})
    newest = _add(any_client, "reddit", "r/memes")
    assert "is already that listing (r/memes controversial month)" in refused(
        newest["id"], {"sort": "controversial", "time": "month"})  # fmt: skip
    assert "extra" in refused(memes["id"], {"target": "r/other"})  # the target is what a source is: not editable
    assert "no source 4242" in refused(4242, {"enabled": True}, status=404)
    folder = _add(any_client, "folder", str(tmp_path))
    watched = any_client.patch(f"/api/sources/{folder['id']}", json={"watch": True, "interval_s": 120}).json()
    assert (watched["options"], watched["interval_s"]) == ({"watch": True}, 120)
    lemmy = _add(any_client, "lemmy", "!memes@lemmy.ml")
    assert lemmy["target"] == "memes@lemmy.ml"
    assert "for lemmy" in refused(lemmy["id"], {"sort": "rising"})


def test_a_source_is_removed_with_its_posts(any_client: TestClient) -> None:
    memes = _add(any_client, "reddit", "r/memes")
    with session_scope() as session:
        session.add(Post(source_id=memes["id"], key="t3_gone", title="a post"))
    assert any_client.delete(f"/api/sources/{memes['id']}").status_code == 204
    assert any_client.get("/api/sources").json() == []
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0
    missing = any_client.delete(f"/api/sources/{memes['id']}")
    assert missing.status_code == 404 and f"no source {memes['id']}" in missing.text
