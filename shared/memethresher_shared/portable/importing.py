"""`memethresher import DIR`: add what an export holds and this database lacks; say what was skipped and why.

Idempotent: every record has an identity made of sha256s, names and moments (docs/export-format.md),
and one already here is skipped, so a second import of the same folder adds nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, exists, select

from memethresher_shared.models import Embedding, Score, Source, utcnow
from memethresher_shared.portable import apply, pending
from memethresher_shared.portable.edits import import_edits
from memethresher_shared.portable.records import (
    FILES,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    RecordError,
    Report,
    check_curation,
    check_label,
    check_rating,
    parse_time,
    rating_key,
    read_lines,
    sha,
)  # fmt: skip
from memethresher_shared.settings import OVERALL
from memethresher_shared.sources import KINDS
from memethresher_shared.store import ImageStore, key_for, sha256_hex
from memethresher_shared.vectors import to_stored

SOURCES: Table = Source.__table__  # type: ignore[assignment]
EMBEDDINGS: Table = Embedding.__table__  # type: ignore[assignment]
SCORES: Table = Score.__table__  # type: ignore[assignment]


class NotAnExport(ValueError):
    """The folder is not an export this version can read."""


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise NotAnExport(f"{folder}: no readable {MANIFEST} ({error}); is it a MemeThresher export?") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise NotAnExport(f"{path}: format {manifest.get('format')!r} version {manifest.get('version')!r}; "
                          f"this install reads {FORMAT!r} version {FORMAT_VERSION}")  # fmt: skip
    return manifest


def import_all(connection: Connection, store: ImageStore, folder: Path, axes: tuple[str, ...]) -> Report:
    """Import `folder` in one transaction (the caller's); images and model folders are copied first."""
    manifest = read_manifest(folder)
    report = Report()
    _sources(connection, folder, report)
    arrived = _memes(connection, store, folder, report)
    _embeddings(connection, folder, manifest, report)
    _mark_embedded(connection, [digest for digest, status in arrived.items() if status == "embedded"])
    new_models = _models(connection, store, folder, report)
    _scores(connection, folder, new_models, report)
    _records(connection, folder, "ratings", lambda r: check_rating(r, axes), report)
    _records(connection, folder, "labels", check_label, report)
    _records(connection, folder, "curation", check_curation, report)
    import_edits(connection, _lines(folder, "rating_edits", report), report)
    for kind, n in pending.apply_pending(connection, arrived).items():
        report.added[f"{kind} (pending from an earlier import)"] += n
    return report


def _lines(folder: Path, kind: str, report: Report) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) per good line; a line that is not a JSON object is reported and skipped."""
    for number, item in read_lines(folder / FILES[kind]):
        where = f"{FILES[kind]}:{number}"
        if isinstance(item, str):
            report.skip(kind, item, where)
        else:
            yield where, item


def _sources(connection: Connection, folder: Path, report: Report) -> None:
    columns = (SOURCES.c.kind, SOURCES.c.target, SOURCES.c.sort, SOURCES.c.time_window)
    here = {tuple(row) for row in connection.execute(select(*columns)).all()}
    for where, s in _lines(folder, "sources", report):
        identity = (s.get("kind"), s.get("target"), s.get("sort", ""), s.get("time_window", ""))
        if s.get("kind") not in KINDS or not isinstance(s.get("target"), str):
            report.skip("sources", f"kind must be one of {', '.join(KINDS)}, with a target", where)
        elif identity in here:
            report.skip("sources", "already here", where)
        else:
            try:
                connection.execute(SOURCES.insert().values(
                    kind=s["kind"], target=s["target"], sort=identity[2], time_window=identity[3],
                    options=s.get("options") or {}, enabled=bool(s.get("enabled", True)),
                    interval_s=int(s.get("interval_s", 3600)), created_at=parse_time(s.get("created_at"), "created_at"),
                ))  # fmt: skip
            except (RecordError, TypeError, ValueError) as error:
                report.skip("sources", f"bad field ({error})", where)
                continue
            here.add(identity)
            report.added["sources"] += 1


def _memes(connection: Connection, store: ImageStore, folder: Path, report: Report) -> dict[str, str]:
    """Add memes whose image is in the export or already in the store; {sha added: its exported status}."""
    lines = list(_lines(folder, "memes", report))
    here = apply.meme_ids(connection, [str(m.get("sha256")) for _, m in lines])
    arrived: dict[str, str] = {}
    for where, m in lines:
        try:
            digest = sha(m, "sha256")
            if digest in here or digest in arrived:
                raise RecordError("already here")
            key = _image_key(store, folder, m, digest)
            connection.execute(apply.MEMES.insert().values(
                sha256=digest, storage_key=key, title=m.get("title") or "", subreddit=m.get("subreddit"),
                format=m["format"], width=int(m["width"]), height=int(m["height"]), byte_size=int(m["byte_size"]),
                status="new", in_library=bool(m.get("in_library")),
                added_at=parse_time(m.get("added_at"), "added_at"),
            ))  # fmt: skip
        except RecordError as error:
            report.skip("memes", str(error), where)
        except (KeyError, TypeError, ValueError) as error:
            report.skip("memes", f"missing or bad field ({error})", where)
        else:
            arrived[digest] = str(m.get("status", "new"))
            report.added["memes"] += 1
    return arrived


def _mark_embedded(connection: Connection, shas: list[str]) -> None:
    """Memes embedded where they came from, and whose vectors came along, need no embedding here."""
    for start in range(0, len(shas), 500):
        has_vector = exists().where(EMBEDDINGS.c.meme_id == apply.MEMES.c.id)
        statement = apply.MEMES.update().where(apply.MEMES.c.sha256.in_(shas[start : start + 500]), has_vector)
        connection.execute(statement.values(status="embedded"))


def _image_key(store: ImageStore, folder: Path, meme: dict[str, Any], digest: str) -> str:
    key = key_for(digest, str(meme.get("format", "")))
    if meme.get("image"):
        path = (folder / str(meme["image"])).resolve()
        if path.is_relative_to(folder.resolve()) and path.is_file():
            data = path.read_bytes()
            if sha256_hex(data) != digest:
                raise RecordError("image bytes do not match their sha256")
            return store.put(data, str(meme["format"]), sha256=digest)
    if store.exists(key):
        return key
    raise RecordError("image neither in the export nor in the image store (its records wait as pending)")


def _embeddings(connection: Connection, folder: Path, manifest: dict[str, Any], report: Report) -> None:
    for encoder, name in (manifest.get("embeddings") or {}).items():
        try:
            with np.load(folder / name, allow_pickle=False) as npz:
                shas, vectors = [str(s) for s in npz["ids"]], npz["vectors"]
        except (OSError, KeyError, ValueError) as error:
            report.skip("embeddings", f"unreadable file ({error})", name)
            continue
        if vectors.ndim != 2 or len(vectors) != len(shas) or not np.isfinite(vectors).all():
            report.skip("embeddings", "'vectors' must be one finite row per id", name, len(shas))
            continue
        ids = apply.meme_ids(connection, shas)
        query = select(EMBEDDINGS.c.meme_id).where(EMBEDDINGS.c.encoder == encoder)
        here = set(connection.scalars(query))
        rows = [{"meme_id": ids[s], "encoder": encoder, "dim": int(v.shape[0]), "vector": to_stored(v),
                 "created_at": utcnow()} for s, v in zip(shas, vectors, strict=True)
                if s in ids and ids[s] not in here]  # fmt: skip
        if rows:
            connection.execute(EMBEDDINGS.insert(), rows)
        report.added["embeddings"] += len(rows)
        if len(shas) > len(rows):
            report.skip("embeddings", "already here or its meme is not here", name, len(shas) - len(rows))


def _models(connection: Connection, store: ImageStore, folder: Path, report: Report) -> dict[str, int]:
    """Add model versions (with their folders, copied into the store); {model_key: new id}."""
    here = apply.model_ids(connection)
    current = {e for (e,) in connection.execute(select(apply.VERSIONS.c.encoder).where(apply.VERSIONS.c.is_current))}
    added: dict[str, int] = {}
    for where, v in _lines(folder, "models", report):
        source = folder / str(v.get("artifact") or "")
        if v.get("key") in here:
            report.skip("models", "already here", where)
        elif not v.get("artifact") or not (source / "config.json").is_file():
            report.skip("models", "its model folder is missing from the export", where)
        else:
            try:
                added[v["key"]] = _add_model(connection, store, source, v, current)
            except (RecordError, KeyError, TypeError, ValueError) as error:
                report.skip("models", f"missing or bad field ({error})", where)
            else:
                report.added["models"] += 1
    return added


def _add_model(connection: Connection, store: ImageStore, source: Path, v: dict[str, Any], current: set[str]) -> int:
    # A version current in the export stays current only where its encoder has none yet.
    is_current = bool(v.get("is_current")) and v["encoder"] not in current
    statement = apply.VERSIONS.insert().values(
        encoder=str(v["encoder"]), config=v.get("config") or {}, metrics=v.get("metrics") or {}, artifact="",
        n_ratings=int(v.get("n_ratings", 0)), is_current=is_current, pinned=is_current and bool(v.get("pinned")),
        created_at=parse_time(v.get("created_at"), "created_at"),
    )  # fmt: skip
    version_id: int = connection.execute(statement.returning(apply.VERSIONS.c.id)).scalar_one()
    target = store.root / "models" / str(version_id)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    connection.execute(apply.VERSIONS.update().where(apply.VERSIONS.c.id == version_id).values(artifact=str(target)))
    return version_id


def _scores(connection: Connection, folder: Path, new_models: dict[str, int], report: Report) -> None:
    """Scores of the versions just added (those of versions already here are theirs)."""
    lines = [(where, s) for where, s in _lines(folder, "scores", report)]
    ids = apply.meme_ids(connection, list({str(s.get("sha256")) for _, s in lines}))
    rows = []
    for where, s in lines:
        if not all(isinstance(s.get(name), int | float) for name in ("mean", "spread")):
            report.skip("scores", "'mean' and 'spread' must be numbers", where)
        elif s.get("model") in new_models and s.get("sha256") in ids:
            rows.append({"meme_id": ids[s["sha256"]], "model_version_id": new_models[s["model"]],
                         "axis": str(s.get("axis") or OVERALL)[:32],
                         "mean": float(s["mean"]), "spread": float(s["spread"])})  # fmt: skip
    if rows:
        connection.execute(SCORES.insert(), rows)
    report.added["scores"] += len(rows)
    left = len(lines) - len(rows) - report.skipped[("scores", "'mean' and 'spread' must be numbers")]
    if left:
        report.skip("scores", "their version or meme was here already or not imported", FILES["scores"], left)


def _records(connection: Connection, folder: Path, kind: str, check: Callable[[dict[str, Any]], dict[str, Any]],
             report: Report) -> None:  # fmt: skip
    """Ratings, labels or curation decisions: added, kept pending for their images, or skipped."""
    fields, add = pending.KINDS[kind]
    for where, line in _lines(folder, kind, report):
        try:
            record = check(line)
        except RecordError as error:
            report.skip(kind, str(error), where)
            continue
        shas = [record[name] for name in fields]
        ids = apply.meme_ids(connection, shas)
        if len(ids) < len(set(shas)):
            if pending.keep(connection, kind, _key(kind, record), record):
                report.pending[kind] += 1
            else:
                report.skip(kind, "already pending", where)
        elif add(connection, record, ids):
            report.added[kind] += 1
        else:
            report.skip(kind, "already here", where)


def _key(kind: str, record: dict[str, Any]) -> str:
    if kind == "ratings":
        return rating_key(record["a"], record["b"], record["axis"], record["created_at"])
    return f"{kind}:{record['id' if kind == 'labels' else 'sha256']}"
