"""Encoder switch, blue/green, through the API: the state machine, the queue it fills, what it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from memethresher_api.settings import get_api_settings
from memethresher_shared import encoder_state, tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Embedding, EncoderSwitch, utcnow
from memethresher_shared.settings import get_settings

from tests.api.helpers import add_memes
from tests.support.queues import queued_tasks

NEW = "tiny-siglip:random"


def test_a_switch_queues_the_new_encoders_batches_newest_first_and_the_old_one_keeps_serving(
    client: TestClient, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_EMBED_BATCH_SIZE", "4")
    get_api_settings.cache_clear()
    ids = add_memes(10)
    old = get_settings().embedder
    response = client.post("/api/encoders/switch", json={"encoder": NEW})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["active"] == old
    assert body["pending"]["encoder"] == NEW and body["pending"]["status"] == "embedding"
    assert (body["pending"]["embedded"], body["pending"]["total"]) == (0, 10)
    assert body["queued"] == 3
    batches = queued_tasks(redis_conn, tasks.EMBED_QUEUE)
    assert [name for name, _ in batches] == [tasks.EMBED_BATCH] * 3
    assert [args[1] for _, args in batches] == [NEW] * 3
    queued_ids = [meme_id for _, args in batches for meme_id in args[0]]
    assert queued_ids == sorted(ids, reverse=True)  # newest first
    assert client.get("/api/pairs/next").status_code == 200  # still served by the old encoder


def test_an_unknown_encoder_the_active_one_or_a_second_switch_is_refused_with_a_reason(client: TestClient) -> None:
    add_memes(3)
    unknown = client.post("/api/encoders/switch", json={"encoder": "nope:nothing"})
    assert unknown.status_code == 422
    assert "unknown encoder" in unknown.text and "tiny-siglip:random" in unknown.text
    same = client.post("/api/encoders/switch", json={"encoder": get_settings().embedder})
    assert same.status_code == 409 and "already the active encoder" in same.text
    assert client.post("/api/encoders/switch", json={"encoder": NEW}).status_code == 202
    second = client.post("/api/encoders/switch", json={"encoder": "ViT-B-16-SigLIP2:webli"})
    assert second.status_code == 409 and "cancel it first" in second.text


def test_cancel_returns_to_the_old_encoder_and_keeps_the_record(client: TestClient) -> None:
    add_memes(3)
    assert client.post("/api/encoders/cancel").status_code == 409  # nothing under way
    client.post("/api/encoders/switch", json={"encoder": NEW})
    cancelled = client.post("/api/encoders/cancel")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["pending"] is None and body["active"] == get_settings().embedder
    assert body["last"]["status"] == "cancelled" and body["last"]["finished_at"]
    listed = client.get("/api/encoders").json()
    assert NEW in [entry["id"] for entry in listed["encoders"]]
    assert client.post("/api/encoders/switch", json={"encoder": NEW}).status_code == 202  # may start again


def test_the_state_machine_allows_only_forward_moves_and_a_done_switch_names_the_active_encoder(env) -> None:  # type: ignore[no-untyped-def]
    old = get_settings().embedder
    with session_scope() as session:
        switch = encoder_state.begin_switch(session, NEW, old, total=5)
        with pytest.raises(encoder_state.SwitchRefused, match="cannot become done"):
            encoder_state.move(switch, "done")
        encoder_state.move(switch, "training")
        encoder_state.move(switch, "comparing")
        assert encoder_state.encoders_to_embed(session, old) == [old, NEW]
        assert encoder_state.active_encoder(session, old) == old
        encoder_state.move(switch, "done")
        assert switch.finished_at is not None
        with pytest.raises(encoder_state.SwitchRefused):
            encoder_state.move(switch, "cancelled")
        session.flush()
        assert encoder_state.active_encoder(session, old) == NEW
        assert encoder_state.pending_switch(session) is None
        assert encoder_state.encoders_to_embed(session, old) == [NEW]
        back = encoder_state.begin_switch(session, old, old, total=5)  # switching back is a new switch
        assert back.previous == NEW


def test_progress_counts_the_new_vectors_and_estimates_the_rest_from_the_rate(client: TestClient) -> None:
    ids = add_memes(8)
    client.post("/api/encoders/switch", json={"encoder": NEW})
    with session_scope() as session:
        switch = session.query(EncoderSwitch).one()
        switch.started_at = utcnow() - timedelta(seconds=10)
        for meme_id in ids[:2]:  # two vectors in ten seconds: six more take thirty
            session.add(Embedding(meme_id=meme_id, encoder=NEW, dim=4, vector=b"\0" * 8))
    pending = client.get("/api/encoders").json()["pending"]
    assert (pending["embedded"], pending["total"]) == (2, 8)
    assert pending["eta_s"] == pytest.approx(30, rel=0.1)
    assert encoder_state.eta_s(0, 10.0, 6) is None  # no rate seen yet: no guess
