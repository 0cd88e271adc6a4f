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


# Best of four: a digit picks the best meme, in reading order (the first pair on the top row).
FOUR_KEYS = ("1", "2", "3", "4")
FOUR_PLACES = ("top left", "top right", "bottom left", "bottom right")
# Switches between pairs and best of four, unless the key map gives the key another action.
MODE_KEY = "f"
# The actions that mean something in best of four (the 5-point choices do not).
FOUR_ACTIONS = ("undo", "skip", "help")


def four_mode(key_map: dict[str, str]) -> dict[str, object]:
    """What the rating page needs for best of four: its keys, its hint and its help rows."""
    kept = {key: action for key, action in key_map.items() if action in FOUR_ACTIONS and key not in FOUR_KEYS}
    mode_key = None if MODE_KEY in {key.lower() for key in key_map} else MODE_KEY
    hint = [f"{' / '.join(FOUR_KEYS)} best of the four", key_hint(kept)]
    legend = [[key, f"best: {place}"] for key, place in zip(FOUR_KEYS, FOUR_PLACES, strict=True)]
    legend += [[key_name(key), ACTION_WORDS[action]] for key, action in kept.items()]
    if mode_key:
        hint.append(f"{key_name(mode_key)} pairs")
        legend.append([key_name(mode_key), "back to pairs"])
    return {"keys": list(FOUR_KEYS), "mode_key": mode_key, "hint": " · ".join(filter(None, hint)), "legend": legend}
