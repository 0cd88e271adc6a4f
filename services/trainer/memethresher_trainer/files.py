"""Reading the offline command's files, with errors that say which file, line and field is wrong."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from memethresher_trainer.train import Pairs


class InputError(ValueError):
    """A file the user gave us is unusable; the message says where and why."""


def load_embeddings(path: Path) -> tuple[list[str], np.ndarray]:
    """`ids` (N strings) and `vectors` (N x d) from an .npz file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"ids", "vectors"} - set(npz.files)
            if missing:
                raise InputError(f"{path}: missing array(s) {sorted(missing)}; expected 'ids' and 'vectors'")
            ids, vectors = npz["ids"], npz["vectors"]
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path}: not a readable .npz file ({error})") from None
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise InputError(f"{path}: 'vectors' must be a non-empty N x d array, got shape {vectors.shape}")
    if ids.ndim != 1 or len(ids) != len(vectors):
        raise InputError(f"{path}: 'ids' must list one id per vector ({len(vectors)}), got shape {ids.shape}")
    names = [str(i) for i in ids]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: 'ids' has duplicates")
    if not np.issubdtype(vectors.dtype, np.number) or not np.isfinite(vectors).all():
        raise InputError(f"{path}: 'vectors' must be finite numbers")
    return names, vectors.astype(np.float32)


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; an empty file is an error."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(item, dict):
            raise InputError(f"{path}:{number}: expected a JSON object")
        seen = True
        yield number, item
    if not seen:
        raise InputError(f"{path}: empty file")


def _meme(path: Path, number: int, item: dict[str, Any], field: str, index: dict[str, int]) -> int:
    if field not in item:
        raise InputError(f"{path}:{number}: missing field '{field}'")
    key = str(item[field])
    if key not in index:
        raise InputError(f"{path}:{number}: unknown id {key!r} in '{field}' (not in the embeddings)")
    return index[key]


def _known(item: dict[str, Any], fields: tuple[str, ...], index: dict[str, int]) -> bool:
    return all(str(item.get(field)) in index for field in fields)


def load_ratings(
    path: Path, index: dict[str, int], targets: dict[str, float], axis: str | None = None, known_only: bool = False
) -> Pairs:
    """Lines {"a": id, "b": id, "choice": "a+|a|tie|b|b+"} as soft-target pairs.

    With `axis`, only lines of that axis (a line without one is "overall"); with `known_only`, lines
    naming a meme the embeddings lack are left out (an export rates memes not embedded yet)."""
    a, b, target = [], [], []
    for number, item in json_lines(path):
        if axis is not None and item.get("axis", "overall") != axis:
            continue
        if known_only and not _known(item, ("a", "b"), index):
            continue
        ia, ib = _meme(path, number, item, "a", index), _meme(path, number, item, "b", index)
        choice = item.get("choice")
        if choice not in targets:
            raise InputError(f"{path}:{number}: 'choice' must be one of {sorted(targets)}, got {choice!r}")
        if ia == ib:
            raise InputError(f"{path}:{number}: 'a' and 'b' are the same meme")
        a.append(ia)
        b.append(ib)
        target.append(targets[choice])
    return Pairs(np.array(a), np.array(b), np.array(target))


def load_labels(path: Path, index: dict[str, int], known_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Lines {"id": id, "good": true|false} as (meme indices, good)."""
    rows, good = [], []
    for number, item in json_lines(path):
        if known_only and not _known(item, ("id",), index):
            continue
        rows.append(_meme(path, number, item, "id", index))
        if not isinstance(item.get("good"), bool):
            raise InputError(f"{path}:{number}: 'good' must be true or false, got {item.get('good')!r}")
        good.append(item["good"])
    return np.array(rows, dtype=np.int64), np.array(good, dtype=bool)
