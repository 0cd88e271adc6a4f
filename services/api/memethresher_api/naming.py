"""Safe library file names for kept memes (pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_STEM = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(name: str) -> str:
    """A file-name stem from what the user typed: spaces to hyphens, only [A-Za-z0-9._-]."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"\s+", "-", ascii_name.strip())
    stem = _UNSAFE.sub("", stem)
    stem = re.sub(r"-{2,}", "-", stem).strip(".-_")
    stem = stem[:MAX_STEM].strip(".-_")
    if not stem:
        raise ValueError("name has no usable characters (letters, digits, '-', '_' or '.')")
    return stem


def unique_file_name(name: str, extension: str, taken: Iterable[str]) -> str:
    """`stem.ext`, or `stem-2.ext`, `stem-3.ext`... for the first one not in `taken`.

    Compared without case, so a library copied to a case-insensitive disk keeps every file."""
    stem = safe_stem(name)
    taken = {t.lower() for t in taken}
    ext = _UNSAFE.sub("", extension.lstrip(".")).lower() or "bin"
    candidate = f"{stem}.{ext}"
    n = 2
    while candidate.lower() in taken:
        candidate = f"{stem}-{n}.{ext}"
        n += 1
    return candidate
