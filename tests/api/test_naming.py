import pytest
from memethresher_api.naming import safe_stem, unique_file_name


def test_spaces_become_hyphens_and_unsafe_characters_go() -> None:
    assert safe_stem("  My best  meme!! ") == "My-best-meme"
    assert safe_stem("café <script> ok") == "cafe-script-ok"


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path", "a/b\\c", ".hidden"])
def test_paths_never_escape_the_folder(name: str) -> None:
    file_name = unique_file_name(name, "png", set())
    assert "/" not in file_name and "\\" not in file_name and not file_name.startswith(".")


def test_collisions_get_numbered() -> None:
    taken = {"cat.png", "cat-2.png"}
    assert unique_file_name("cat", "png", taken) == "cat-3.png"
    assert unique_file_name("cat", "jpg", taken) == "cat.jpg"
    assert unique_file_name("Cat", "PNG", taken) == "Cat-3.png"


@pytest.mark.parametrize("name", ["", "   ", "!!!", "../.."])
def test_a_name_with_nothing_usable_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="no usable characters"):
        safe_stem(name)


def test_long_names_are_cut() -> None:
    assert len(safe_stem("x" * 1000)) <= 120
