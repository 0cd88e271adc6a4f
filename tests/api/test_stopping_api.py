"""The stopping signal of the current model reaches /api/stats and the rating page's status."""

from __future__ import annotations

from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion

from tests.api.helpers import add_memes, add_model

SIGNAL = {"next_ratings": 100, "decision_change_share": 0.034, "decision_changes": 17,
          "disagreement_share": 0.011, "observed_change_share": 0.034}  # fmt: skip


def test_stats_and_rating_status_show_the_current_models_stopping_signal(client: TestClient) -> None:
    add_memes(3)
    assert client.get("/api/stats").json()["stopping"] is None
    older = add_model()
    with session_scope() as session:
        session.get_one(ModelVersion, older).metrics = {"stopping": dict(SIGNAL, decision_changes=40)}
    newer = add_model()
    with session_scope() as session:
        session.get_one(ModelVersion, newer).metrics = {"val_accuracy": 0.7, "stopping": SIGNAL}
    assert client.get("/api/stats").json()["stopping"] == SIGNAL
    assert client.get("/api/rating-status").json()["stopping"] == SIGNAL


def test_a_signal_from_before_the_observed_change_shows_its_parts_as_unknown(client: TestClient) -> None:
    add_memes(3)
    older = {"next_ratings": 100, "decision_change_share": 0.012, "decision_changes": 6}
    with session_scope() as session:
        session.get_one(ModelVersion, add_model()).metrics = {"stopping": older}
    shown = client.get("/api/rating-status").json()["stopping"]
    assert shown == older | {"disagreement_share": None, "observed_change_share": None}


def test_a_model_trained_before_the_signal_shows_none(client: TestClient) -> None:
    add_memes(3)
    add_model()
    assert client.get("/api/rating-status").json()["stopping"] is None
    page = client.get("/rate")
    assert page.status_code == 200 and 'id="stopping"' in page.text
