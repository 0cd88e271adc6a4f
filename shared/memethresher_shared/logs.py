"""Structured logs: JSON lines (or text) carrying the service and the Celery task id."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

from celery import current_task as _current_task

TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(task_id)s] %(message)s"

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, service, Celery task id and extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        entry.update(current_task_fields())
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def current_task_fields() -> dict[str, str]:
    """The id and name of the Celery task running in this thread, if any."""
    task = _current_task._get_current_object()
    if task is None or task.request.id is None:
        return {}
    return {"task_id": str(task.request.id), "task_name": str(task.name)}


class _TaskIdFilter(logging.Filter):
    """Gives text log lines the task id too."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = current_task_fields().get("task_id", "-")
        return True


def configure_logging(service: str, stream: IO[str] | None = None, level: int | str | None = None) -> logging.Handler:
    """Send every log record of this process to one stream handler (JSON unless settings say text).

    `MEMETHRESHER_LOG_LEVEL` wins over `level` (a worker's `--loglevel`), which wins over INFO."""
    from memethresher_shared.observability import get_observability_settings  # it imports this module

    settings = get_observability_settings()
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.addFilter(_TaskIdFilter())
        handler.setFormatter(logging.Formatter(TEXT_LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper() or level or logging.INFO)
    return handler
