"""The rating page's key hint, written from the configured key map (so a remapped key shows as it is)."""

from __future__ import annotations

# What each action does, as the hint says it (a is the left meme, b the right one).
ACTION_WORDS = {
    "a": "left better",
    "b": "right better",
    "a+": "left much better",
    "b+": "right much better",
    "tie": "tie",
    "undo": "undo",
    "skip": "skip",
    "help": "help",
}
KEY_NAMES = {"ArrowLeft": "←", "ArrowRight": "→", "ArrowUp": "↑", "ArrowDown": "↓", " ": "Space"}


def key_name(key: str) -> str:
    """How a KeyboardEvent.key (optionally "Shift+" prefixed) is written on the page."""
    bare = key.removeprefix("Shift+")
    name = KEY_NAMES.get(bare, bare.upper() if len(bare) == 1 else bare)
    return f"Shift+{name}" if bare != key else name


def key_hint(key_map: dict[str, str]) -> str:
    """ "← / 1 left better · → / 2 right better · …": every action that has a key, in the order of
    ACTION_WORDS, its keys in the order configured."""
    parts = []
    for action, words in ACTION_WORDS.items():
        keys = [key_name(key) for key, mapped in key_map.items() if mapped == action]
        if keys:
            parts.append(f"{' / '.join(keys)} {words}")
    return " · ".join(parts)
