"""The rating page's key hint is written from the key map."""

from memethresher_api.key_hints import key_hint
from memethresher_api.settings import DEFAULT_KEY_MAP


def test_the_default_keys_read_as_before() -> None:
    assert key_hint(DEFAULT_KEY_MAP) == (
        "← / 1 left better · → / 2 right better · Shift+← left much better · Shift+→ right much better · "
        "↓ / 0 tie · Backspace / U undo · S skip · ? help"
    )


def test_a_remapped_key_shows_as_configured_and_unmapped_actions_are_left_out() -> None:
    assert key_hint({"j": "a", "Shift+ArrowUp": "tie", " ": "skip"}) == "J left better · Shift+↑ tie · Space skip"
