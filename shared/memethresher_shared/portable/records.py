"""The export format's records, pure: each line built from a row and checked on the way back in.

Every record names images by sha256 and model versions by `model_key`, never by database ids,
so an export made on one database imports into any other."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memethresher_shared.settings import CHOICES, OVERALL

FORMAT = "memethresher-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = {
    "sources": "sources.jsonl",
    "memes": "memes.jsonl",
    "models": "models.jsonl",
    "scores": "scores.jsonl",
    "ratings": "ratings.jsonl",
    "labels": "labels.jsonl",
    "curation": "curation.jsonl",
    "rating_edits": "rating_edits.jsonl",
}
CURATION_STATUSES = ("pending", "kept", "discarded")


class RecordError(ValueError):
    """A line that cannot be imported; the message says why."""


def iso(moment: datetime | None) -> str | None:
    """UTC, to the microsecond: SQLite hands back naive datetimes, PostgreSQL aware ones."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(value: Any, name: str, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise RecordError(f"'{name}' is not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def model_key(encoder: str, created_at: datetime) -> str:
    """A model version's identity across databases: its encoder and the moment it was trained."""
    return f"{encoder}@{iso(created_at)}"


def rating_key(a: str, b: str, axis: str, created_at: datetime) -> str:
    return f"rating:{a}:{b}:{axis}:{iso(created_at)}"


def sha(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise RecordError(f"'{name}' must be a lowercase hex sha256, got {value!r}")
    return value


def check_rating(record: dict[str, Any], axes: tuple[str, ...]) -> dict[str, Any]:
    a, b = sha(record, "a"), sha(record, "b")
    if a == b:
        raise RecordError("'a' and 'b' are the same image")
    if record.get("choice") not in CHOICES:
        raise RecordError(f"'choice' must be one of {list(CHOICES)}, got {record.get('choice')!r}")
    axis = record.get("axis", axes[0])
    if axis not in axes:
        raise RecordError(f"axis {axis!r} is not configured here (MEMETHRESHER_RATING_AXES has {list(axes)})")
    return {
        "a": a, "b": b, "choice": record["choice"], "axis": axis,
        "origin": str(record.get("origin", "random"))[:16],
        "created_at": parse_time(record.get("created_at"), "created_at"),
    }  # fmt: skip


def check_label(record: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(record.get("good"), bool):
        raise RecordError(f"'good' must be true or false, got {record.get('good')!r}")
    created_at = parse_time(record.get("created_at"), "created_at")
    return {"id": sha(record, "id"), "good": record["good"], "created_at": created_at}


def check_curation(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("status") not in CURATION_STATUSES:
        raise RecordError(f"'status' must be one of {list(CURATION_STATUSES)}, got {record.get('status')!r}")
    if not isinstance(record.get("score"), int | float):
        raise RecordError(f"'score' must be a number, got {record.get('score')!r}")
    return {
        "sha256": sha(record, "sha256"), "status": record["status"], "score": float(record["score"]),
        "name": record.get("name"), "library_path": record.get("library_path"), "model": record.get("model"),
        "axis": str(record.get("axis") or OVERALL)[:32],
        "created_at": parse_time(record.get("created_at"), "created_at"),
        "decided_at": parse_time(record.get("decided_at"), "decided_at", required=False),
    }  # fmt: skip


def write_lines(path: Path, records: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            count += 1
    return count


def read_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, object) per non-blank line, or (line number, why) for a line that is not an object."""
    if not path.is_file():
        return
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, f"not valid JSON ({error.msg})"
                continue
            yield number, item if isinstance(item, dict) else "not a JSON object"


@dataclass
class Report:
    """What an import did: records added, skipped (and why), kept pending until their images arrive."""

    added: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def skip(self, kind: str, reason: str, where: str, n: int = 1) -> None:
        self.skipped[(kind, reason)] += n
        self.examples.setdefault((kind, reason), where)

    def lines(self) -> list[str]:
        out = [f"added {n} {kind}" for kind, n in sorted(self.added.items()) if n]
        out += [f"kept {n} {kind} pending until their images arrive" for kind, n in sorted(self.pending.items()) if n]
        for (kind, reason), n in sorted(self.skipped.items()):
            out.append(f"skipped {n} {kind}: {reason} (first at {self.examples[(kind, reason)]})")
        return out or ["nothing to import"]
