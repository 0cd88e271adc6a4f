"""Taste prompts through the API: add, list, delete, what it refuses, and what it asks the workers to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import PROMPT_PRIOR_KIND, ModelVersion, PromptVector

from tests.api.helpers import BASE_URL
from tests.support.queues import queued_tasks

TINY = "tiny-siglip:random"
OFFLINE = "efficientnet_lite0:imagenet"


@pytest.fixture
def siglip_client(env, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app with an open_clip encoder (it has a text tower) configured."""
    monkeypatch.setenv("MEMETHRESHER_EMBEDDER", TINY)
    with TestClient(create_app(), base_url=BASE_URL) as test_client:
        yield test_client


def add_version(kind: str | None) -> None:
    with session_scope() as session:
        for other in session.query(ModelVersion).filter_by(is_current=True):
            other.is_current = False
        config = {"kind": kind} if kind else {}
        session.add(ModelVersion(encoder=TINY, artifact="models/x", config=config, is_current=True))


def test_a_prompt_is_added_embedded_in_the_background_listed_and_deleted(
    siglip_client: TestClient, redis_conn: redis.Redis
) -> None:
    added = siglip_client.post("/api/prompts", json={"text": "  screenshots of   tweets ", "like": False})
    assert added.status_code == 201, added.text
    prompt = added.json()
    assert (prompt["text"], prompt["like"], prompt["embedded"]) == ("screenshots of tweets", False, False)
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == [(tasks.EMBED_PROMPTS, [])]

    listed = siglip_client.get("/api/prompts").json()
    assert (listed["encoder"], listed["text_tower"], listed["scoring"]) == (TINY, True, "none")
    assert [p["text"] for p in listed["prompts"]] == ["screenshots of tweets"]

    with session_scope() as session:  # as the embedder stores it
        session.add(PromptVector(prompt_id=prompt["id"], encoder=TINY, dim=2, vector=b"\x00" * 4))
    add_version(PROMPT_PRIOR_KIND)
    listed = siglip_client.get("/api/prompts").json()
    assert listed["prompts"][0]["embedded"] is True and listed["scoring"] == "prompts"
    add_version(None)
    assert siglip_client.get("/api/prompts").json()["scoring"] == "ratings", "a model trained from ratings took over"

    assert siglip_client.delete(f"/api/prompts/{prompt['id']}").status_code == 204
    assert queued_tasks(redis_conn, tasks.TRAIN_QUEUE) == [(tasks.PROMPT_PRIOR, [TINY])]
    assert siglip_client.get("/api/prompts").json()["prompts"] == []
    assert siglip_client.delete(f"/api/prompts/{prompt['id']}").status_code == 404


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "write a few words"), ("x" * 201, "at most 200 characters, not 201")],
)
def test_an_empty_or_too_long_prompt_is_refused_with_what_to_write(
    siglip_client: TestClient, text: str, message: str
) -> None:
    response = siglip_client.post("/api/prompts", json={"text": text})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "text"] and message in error["msg"]
    assert siglip_client.get("/api/prompts").json()["prompts"] == []


def test_the_same_prompt_twice_is_a_conflict(siglip_client: TestClient) -> None:
    assert siglip_client.post("/api/prompts", json={"text": "programming jokes"}).status_code == 201
    again = siglip_client.post("/api/prompts", json={"text": "programming jokes", "like": False})
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_an_encoder_without_a_text_tower_refuses_prompts(client: TestClient, redis_conn: redis.Redis) -> None:
    response = client.post("/api/prompts", json={"text": "programming jokes"})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"the active encoder {OFFLINE} has no text tower: switch to a SigLIP encoder to use prompts"
    )
    listed = client.get("/api/prompts").json()
    assert listed["text_tower"] is False and listed["prompts"] == []
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == []
