"""An encoder switch through real processes (API under uvicorn, embedder and trainer workers) while a
simulated rater keeps rating over HTTP: no refused pair, no meme losing its score, no retrain storm,
every rating kept, and the new encoder takes over only through the trainer's comparison."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from memethresher_shared import encoder_state
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion, Rating, Score
from memethresher_shared.versions import current_version
from sqlalchemy import func, select

from tests.conftest import Env
from tests.integration.memes import add_sample_memes
from tests.integration.rater import Rater, free_port, start_api, wait_for_stats

SEES = "efficientnet_lite0:imagenet"  # the setting: the encoder of a new install
BLIND = "tiny-siglip:random"  # random weights
RETRAIN_EVERY = 20
MEMES = 60
RATINGS = 200  # before the switches under test
# Which of two encoders learns a simulated taste better from a few hundred ratings is close and not
# the point here; the margin the trainer asks for decides it instead: -1 accepts the new encoder
# whatever its figures (a log-loss differs by far less), +1 refuses it whatever they are.
ACCEPT_ANY, REFUSE_ANY = "-1.0", "1.0"


def served_scores() -> tuple[str, set[int]]:
    """The active encoder and the memes its current model has scored, read in one transaction."""
    with session_scope() as session:
        active = encoder_state.active_encoder(session, SEES)
        version = current_version(session, active)
        if version is None:
            return active, set()
        return active, set(session.scalars(select(Score.meme_id).where(Score.model_version_id == version.id)))


def versions() -> list[tuple[int, str, int, str]]:
    with session_scope() as session:
        rows = session.execute(
            select(ModelVersion.id, ModelVersion.encoder, ModelVersion.n_ratings, ModelVersion.created_at)
        )
        return [(r.id, r.encoder, r.n_ratings, r.created_at.strftime("%H:%M:%S.%f")) for r in rows]


def count(model: type) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass
class Traffic:
    """A rater in a thread, and a watcher of the scores in another, until `stop` is set."""

    rater: Rater
    scored_before: set[int]
    stop: threading.Event = field(default_factory=threading.Event)
    saved: int = 0
    errors: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    actives: set[str] = field(default_factory=set)

    def rate(self) -> None:
        rng = random.Random(11)
        while not self.stop.is_set():
            try:
                self.rater.rate_one(rng)
                self.saved += 1
            except (AssertionError, httpx.HTTPError) as error:  # a refused pair or rating, a 404 above all
                self.errors.append(str(error)[:300])
            time.sleep(0.15)

    def watch(self) -> None:
        while not self.stop.is_set():
            active, scored = served_scores()
            self.actives.add(active)
            if missing := self.scored_before - scored:
                self.gaps.append(f"{len(missing)} memes without a score under {active}")
            time.sleep(0.25)

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.rate), threading.Thread(target=self.watch)]
        for thread in threads:
            thread.start()
        return threads


def logs(workers: list) -> str:
    return "\n".join(worker.output() for worker in workers)


def wait_for_switch(client: httpx.Client, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    state: dict = {}
    while time.monotonic() < deadline:
        state = client.get("/api/encoders").json()
        if state["pending"] is None and state["last"] is not None:
            return state
        time.sleep(1.0)
    raise AssertionError(f"the switch did not finish in {timeout_s}s: {state}")


@dataclass
class SwitchRun:
    outcome: dict
    traffic: Traffic
    trainings: int
    ratings_before: int


def switch_while_rating(client: httpx.Client, rater: Rater, to: str) -> SwitchRun:
    """Switch to `to` while the rater rates and the watcher checks every served score, until the switch
    ends and a few seconds after (a retrain storm would show then)."""
    _, scored_before = served_scores()
    versions_before, ratings_before = count(ModelVersion), count(Rating)
    traffic = Traffic(rater, scored_before)
    threads = traffic.run()
    try:
        started = client.post("/api/encoders/switch", json={"encoder": to})
        assert started.status_code == 202, started.text
        assert started.json()["pending"]["total"] == MEMES
        outcome = wait_for_switch(client, timeout_s=400)
        time.sleep(8)
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(30)
    return SwitchRun(outcome, traffic, count(ModelVersion) - versions_before, ratings_before)


def assert_served_throughout(run: SwitchRun) -> None:
    """No refused pair or rating, no meme without a score at any moment, every rating kept, no retrain storm."""
    traffic = run.traffic
    assert traffic.errors == [], traffic.errors[:5]
    assert traffic.gaps == [], traffic.gaps[:5]
    assert traffic.saved >= 10, "the rater kept rating through the switch"
    assert count(Rating) == run.ratings_before + traffic.saved
    # A storm is a training per rating; the retrain trigger allows one running and one queued behind it
    # per RETRAIN_EVERY ratings (ratings during a training queue the next), and the switch trains once.
    storm_free = 1 + 2 * (traffic.saved // RETRAIN_EVERY + 1)
    assert 1 <= run.trainings <= storm_free, (run.trainings, traffic.saved, versions())


@pytest.mark.integration
@pytest.mark.postgres
def test_switch_through_real_workers_while_rating(pg_env: Env, tmp_path: Path, start_worker: Callable) -> None:
    variables = {**pg_env.vars, "MEMETHRESHER_EMBEDDER": SEES, "MEMETHRESHER_RETRAIN_EVERY": str(RETRAIN_EVERY),
                 "MEMETHRESHER_EMBED_BATCH_SIZE": "8"}  # fmt: skip
    add_sample_memes(tmp_path / "memes", MEMES, seed=4)
    workers = [start_worker("memethresher_embedder.tasks", "embed", variables, wait=False)]
    trainer = start_worker("memethresher_trainer.tasks", "train,score", variables | {
        "MEMETHRESHER_ENCODER_SWITCH_MIN_GAIN": ACCEPT_ANY}, name="trainer-accepting", wait=False)  # fmt: skip
    port = free_port()
    api = start_api(variables, port, tmp_path / "api.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for_stats(client, lambda s: s["embedded"] == MEMES, timeout_s=180)
            rater = Rater(client, seed=2)
            ready = lambda s: s["ratings"] >= RATINGS and s["model_versions"] >= 1 and s["scored"] == MEMES  # noqa: E731
            rater.rate_until(ready, RATINGS, timeout_s=300)
            assert served_scores() == (SEES, set(range(1, MEMES + 1)))

            upgrade = switch_while_rating(client, rater, BLIND)
            last = upgrade.outcome["last"]
            assert last["status"] == "done", f"{last}\n{logs([*workers, trainer])}"
            assert upgrade.outcome["active"] == BLIND and last["comparison"]["verdict"] == "accepted"
            assert last["comparison"]["new"]["n_val_pairs"] == last["comparison"]["old"]["n_val_pairs"] > 0
            assert upgrade.traffic.actives == {SEES, BLIND}
            assert_served_throughout(upgrade)
            with session_scope() as session:
                version = current_version(session, BLIND)
                assert version is not None and version.id >= last["model_version_id"]
            assert served_scores() == (BLIND, set(range(1, MEMES + 1)))

            trainer.stop()
            trainer = start_worker("memethresher_trainer.tasks", "train,score", variables | {
                "MEMETHRESHER_ENCODER_SWITCH_MIN_GAIN": REFUSE_ANY}, name="trainer-refusing")  # fmt: skip
            # Back to EfficientNet: its vectors are there, so straight to the comparison, which refuses it.
            downgrade = switch_while_rating(client, rater, SEES)
    finally:
        api.terminate()
        api.wait(20)
    refused = downgrade.outcome["last"]
    assert refused["status"] == "rejected", f"{refused}\n{logs([*workers, trainer])}"
    assert "held-out log-loss" in refused["reason"] and "ENCODER_SWITCH_MIN_GAIN" in refused["reason"]
    assert downgrade.outcome["active"] == BLIND and downgrade.traffic.actives == {BLIND}
    assert_served_throughout(downgrade)
    assert served_scores() == (BLIND, set(range(1, MEMES + 1)))
