"""Read what sits on a Celery queue in Redis, to check what a service enqueued."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis


def queued_tasks(client: redis.Redis, queue: str) -> list[tuple[str, list[Any]]]:
    """(task name, args) of every message waiting on `queue`, oldest first."""
    messages = []
    for raw in reversed(client.lrange(queue, 0, -1)):  # kombu pushes on the left
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args))
    return messages
