"""Task metrics, domain counters, the /metrics endpoints and JSON logs, without a broker."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from fastapi import FastAPI
from fastapi.testclient import TestClient
from memethresher_shared import observability as obs
from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def tasks_in(state: str, task: str, queue: str) -> float:
    return sample("memethresher_tasks_total", queue=queue, task=task, state=state)


@pytest.fixture
def probe_app() -> Celery:
    app = Celery("probe", set_as_current=False)
    obs.install_task_metrics(app)
    return app


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    obs.get_observability_settings.cache_clear()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    obs.get_observability_settings.cache_clear()


def test_tasks_are_counted_by_queue_and_state_and_timed(probe_app: Celery) -> None:
    @probe_app.task(name="embedder.probe_ok")
    def ok(x: int) -> int:
        return x + 1

    @probe_app.task(name="crawler.probe_fail")
    def fail() -> None:
        raise ValueError("bad listing")

    started = tasks_in("started", "embedder.probe_ok", "embed")
    timed = "memethresher_task_duration_seconds_count"
    durations = sample(timed, queue="embed", task="embedder.probe_ok")
    assert ok.apply((1,)).get() == 2
    assert ok.apply((2,)).get() == 3
    assert fail.apply().failed()

    assert tasks_in("started", "embedder.probe_ok", "embed") == started + 2
    assert tasks_in("success", "embedder.probe_ok", "embed") >= 2
    assert sample(timed, queue="embed", task="embedder.probe_ok") == durations + 2
    assert tasks_in("failure", "crawler.probe_fail", "crawl") >= 1
    assert sample("memethresher_task_exceptions_total", queue="crawl", task="crawler.probe_fail",
                  exception="ValueError") >= 1  # fmt: skip


def test_retries_are_counted_with_their_reason(probe_app: Celery) -> None:
    calls: list[int] = []

    @probe_app.task(name="crawler.probe_flaky", bind=True, max_retries=2)
    def flaky(self: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise self.retry(exc=ConnectionError("reddit said 503"), countdown=0)  # type: ignore[attr-defined]
        return "done"

    before = sample("memethresher_task_retries_total", queue="crawl", task="crawler.probe_flaky",
                    reason="ConnectionError")  # fmt: skip
    flaky.apply()
    assert len(calls) == 2
    after = sample("memethresher_task_retries_total", queue="crawl", task="crawler.probe_flaky",
                   reason="ConnectionError")  # fmt: skip
    assert after == before + 1


def test_tasks_of_another_app_are_not_counted(probe_app: Celery) -> None:
    other = Celery("other", set_as_current=False)

    @other.task(name="embedder.probe_other")
    def elsewhere() -> int:
        return 1

    elsewhere.apply()
    assert tasks_in("started", "embedder.probe_other", "embed") == 0


def test_queue_comes_from_the_route_table_then_the_broker() -> None:
    assert obs.queue_for_task("trainer.train") == "train"
    assert obs.queue_for_task("scorer.score_all") == "score"
    assert obs.queue_for_task("celery.chord_unlock", {"routing_key": "celery"}) == "celery"
    assert obs.queue_for_task("celery.backend_cleanup") == "unknown"


def test_domain_counters_reach_the_api_metrics_endpoint() -> None:
    api = FastAPI()
    api.mount("/metrics", obs.metrics_asgi_app())
    client = TestClient(api)

    def scraped(line_start: str) -> float:
        text = client.get("/metrics/").text
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
        return values[0] if values else 0.0

    rating = 'memethresher_ratings_total{choice="a+",origin="acquisition"}'
    before = scraped(rating)
    obs.record_rating("a+", "acquisition")
    obs.record_rating("a+", "acquisition")
    obs.record_images_crawled(5, "reddit")
    obs.record_image_failed("crawl", "decode")
    obs.record_images_embedded(32, "efficientnet_lite0:imagenet")
    obs.record_training_run("efficientnet_lite0:imagenet", "published", validation_loss=0.4375)

    response = client.get("/metrics/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert scraped(rating) == before + 2
    assert scraped('memethresher_validation_loss{encoder="efficientnet_lite0:imagenet"}') == 0.4375
    assert scraped('memethresher_images_failed_total{reason="decode",stage="crawl"}') >= 1
    body, content_type = obs.render_metrics()
    assert b"memethresher_images_embedded_total" in body and content_type.startswith("text/plain")


def test_logs_are_json_lines_with_the_task_id(probe_app: Celery, root_logging: None) -> None:
    stream = io.StringIO()
    obs.configure_logging("embedder", stream=stream)

    @probe_app.task(name="embedder.probe_logs")
    def logs() -> None:
        logging.getLogger("memethresher_embedder").info("embedded %d memes", 3, extra={"meme_id": 7})

    result = logs.apply()
    logging.getLogger("memethresher_api").warning("outside any task")
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    first, second = (e for e in entries if e["logger"].startswith("memethresher"))
    assert first["message"] == "embedded 3 memes" and first["level"] == "INFO"
    assert first["task_id"] == result.id and first["task_name"] == "embedder.probe_logs"
    assert first["service"] == "embedder" and first["meme_id"] == 7
    assert "task_id" not in second and second["level"] == "WARNING"


def test_text_logs_when_asked(root_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMETHRESHER_LOG_FORMAT", "text")
    obs.get_observability_settings.cache_clear()
    stream = io.StringIO()
    obs.configure_logging("api", stream=stream)
    logging.getLogger("memethresher_api").error("rating store unavailable")
    assert "ERROR memethresher_api [-] rating store unavailable" in stream.getvalue()


def test_log_level_from_settings_wins_over_the_worker_flag(root_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    obs.configure_logging("crawler", stream=stream, level=logging.WARNING)
    logging.getLogger("memethresher_crawler").info("listing page 1")
    assert stream.getvalue() == ""

    monkeypatch.setenv("MEMETHRESHER_LOG_LEVEL", "debug")
    obs.get_observability_settings.cache_clear()
    obs.configure_logging("crawler", stream=stream, level=logging.WARNING)
    logging.getLogger("memethresher_crawler").debug("listing page 2")
    assert json.loads(stream.getvalue())["message"] == "listing page 2"


def test_metrics_server_off_or_on_a_busy_port_does_not_stop_a_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert obs.start_metrics_server(port=0) is None
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert obs.start_metrics_server(port=port, addr="127.0.0.1") is None
    assert f"metrics endpoint not started on port {port}" in caplog.text


def test_multiprocess_mode_creates_its_folder_and_serves_what_was_recorded(tmp_path: Path) -> None:
    # prometheus_client picks multiprocess mode at import, so this needs a fresh interpreter.
    folder = tmp_path / "not-yet-there"
    code = (
        "from memethresher_shared import observability as o\n"
        "o.record_rating('a+', 'random'); o.record_rating('a+', 'random')\n"
        "import sys; sys.stdout.write(o.render_metrics()[0].decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'memethresher_ratings_total{choice="a+",origin="random"} 2.0' in result.stdout
    assert any(folder.iterdir())
