"""A worker module for the worker-metrics test: the shared app, instrumented, with one probe task."""

from __future__ import annotations

import logging
import os
import time

from memethresher_shared.celery_app import app
from memethresher_shared.coordination import redis_client
from memethresher_shared.observability import install_worker_observability, record_images_embedded

install_worker_observability(app, "embedder")

PROBE = "embedder.observability_probe"


@app.task(name=PROBE)
def probe(count: int, meet_key: str, meet: int) -> int:
    """Record `count` embedded images; return the pool process's id.

    The first `meet` probes wait for each other, so they must run in different pool processes."""
    client = redis_client()
    client.incr(meet_key)
    deadline = time.monotonic() + 30
    while int(client.get(meet_key) or 0) < meet and time.monotonic() < deadline:
        time.sleep(0.05)
    record_images_embedded(count, "probe-encoder")
    logging.getLogger("memethresher_embedder").info("probe embedded %d", count)
    return os.getpid()
