"""The files of a `memethresher export` folder that the offline command reads (docs/export-format.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from memethresher_trainer.files import InputError


@dataclass(frozen=True)
class ExportFiles:
    embeddings: Path  # ids are sha256s
    ratings: Path
    labels: Path


def export_files(folder: Path, encoder: str | None) -> ExportFiles:
    """The export's vectors of `encoder` (the only one when None), its ratings and labels."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"{folder}: no readable manifest.json ({error}); is it a MemeThresher export?") from None
    encoders: dict[str, str] = manifest.get("embeddings") or {}
    if not encoders:
        raise InputError(f"{folder}: the export holds no vectors (nothing was embedded when it was made)")
    if encoder is None and len(encoders) > 1:
        raise InputError(f"{folder}: vectors of several encoders; choose one with --encoder ({', '.join(encoders)})")
    chosen = encoder or next(iter(encoders))
    if chosen not in encoders:
        raise InputError(f"{folder}: no vectors of encoder {chosen!r} (it has {', '.join(encoders)})")
    return ExportFiles(folder / encoders[chosen], folder / "ratings.jsonl", folder / "labels.jsonl")
