"""Real weights from a Hugging Face cache or a mounted folder, checked by sha256; a corrupt cached file is
removed and fetched once more (from a fake hub over real HTTP), then a clear error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from memethresher_embedder.encoders import load_encoder
from memethresher_embedder.registry import parse_encoder_id
from memethresher_embedder.settings import EmbedderSettings
from memethresher_embedder.weights import EncoderUnavailable, find_checkpoint, hub_repo

from tests.embedder.conftest import trained_tiny_checkpoint
from tests.embedder.fake_hub import COMMIT, serve_hub

REPO = "memethresher/tiny-siglip"  # where the tiny_tag fixture says the tiny weights are released
FILE = "open_clip_pytorch_model.bin"


def cache_file(cache: Path, repo: str, filename: str, data: bytes) -> Path:
    """Lay `data` out as huggingface_hub caches a large file: a blob named by its sha256, linked from a snapshot."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = folder / "snapshots" / COMMIT / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("..", "..", "blobs", blob.name))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(COMMIT)
    return blob


def tiny_weights(tmp_path: Path) -> tuple[bytes, dict[str, torch.Tensor]]:
    path, trained = trained_tiny_checkpoint(tmp_path / "made" / FILE)
    return path.read_bytes(), trained.network.state_dict()  # type: ignore[attr-defined]


def flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))


def test_a_corrupt_cached_checkpoint_is_removed_fetched_again_and_loads(tmp_path: Path, tiny_tag: str) -> None:
    good, expected = tiny_weights(tmp_path)
    cache = tmp_path / "hf"
    blob = cache_file(cache, REPO, FILE, good)
    flip_bytes(blob)  # a disk error or an interrupted copy
    with serve_hub() as (hub, url):
        hub.files[(REPO, FILE)] = good
        settings = EmbedderSettings(embedder_cache_dir=cache, embedder_hf_endpoint=url)
        encoder = load_encoder(tiny_tag, settings)
    assert hub.downloads == {FILE: 1}
    assert all(torch.equal(value, expected[key]) for key, value in encoder.network.state_dict().items())
    assert blob.read_bytes() == good, "the cache holds the good file again"
    assert load_encoder(tiny_tag, settings).dim == 64  # and the next start needs no network


def test_a_checkpoint_still_bad_after_fetching_again_is_a_clear_error(tmp_path: Path, tiny_tag: str) -> None:
    cache = tmp_path / "hf"
    cache_file(cache, REPO, FILE, b"not a checkpoint at all")  # the sum matches: only loading finds it bad
    with serve_hub() as (hub, url):
        hub.files[(REPO, FILE)] = b"not a checkpoint at all"
        settings = EmbedderSettings(embedder_cache_dir=cache, embedder_hf_endpoint=url)
        with pytest.raises(EncoderUnavailable, match="fetched again from memethresher/tiny-siglip") as failure:
            load_encoder(tiny_tag, settings)
    assert hub.downloads == {FILE: 1}, "fetched once more, not in a loop"
    assert "cannot be loaded" in str(failure.value) and "efficientnet_lite0:imagenet" in str(failure.value)


def test_a_corrupt_cached_checkpoint_without_downloads_is_removed_and_named(tmp_path: Path, tiny_tag: str) -> None:
    good, _ = tiny_weights(tmp_path)
    cache = tmp_path / "hf"
    blob = cache_file(cache, REPO, FILE, good)
    flip_bytes(blob)
    settings = EmbedderSettings(embedder_cache_dir=cache, embedder_download=False)
    with pytest.raises(EncoderUnavailable, match="fails its checksum.*removed from the cache.*downloads are off"):
        load_encoder(tiny_tag, settings)
    assert not blob.exists(), "the bad copy is not loaded again at the next start"


def test_a_mounted_checkpoint_is_checked_against_its_sha256_file_and_never_removed(
    tmp_path: Path, tiny_tag: str
) -> None:
    good, expected = tiny_weights(tmp_path)
    mounted = tmp_path / "models" / FILE
    mounted.parent.mkdir()
    mounted.write_bytes(good)
    (tmp_path / "models" / f"{FILE}.sha256").write_text(f"{hashlib.sha256(good).hexdigest()}  {FILE}\n")
    encoder = load_encoder(tiny_tag, EmbedderSettings(embedder_weights=mounted))
    assert all(torch.equal(value, expected[key]) for key, value in encoder.network.state_dict().items())
    flip_bytes(mounted)
    with pytest.raises(EncoderUnavailable, match="fails its checksum.*replace the file"):
        load_encoder(tiny_tag, EmbedderSettings(embedder_weights=mounted))
    assert mounted.exists()


@pytest.mark.parametrize(
    ("encoder_id", "repo"),
    [
        ("ViT-SO400M-14-SigLIP-384:webli", "timm/ViT-SO400M-14-SigLIP-384"),
        ("ViT-SO400M-16-SigLIP2-384:webli", "timm/ViT-SO400M-16-SigLIP2-384"),
    ],
)
def test_siglip_weights_are_found_in_a_local_cache_with_their_checksum(
    tmp_path: Path, encoder_id: str, repo: str
) -> None:
    spec = parse_encoder_id(encoder_id)
    assert hub_repo(spec) == repo
    blob = cache_file(tmp_path / "hf", repo, "open_clip_model.safetensors", b"weights stand-in")
    found = find_checkpoint(spec, EmbedderSettings(embedder_cache_dir=tmp_path / "hf", embedder_download=False))
    assert found.path.resolve() == blob and found.sha256 == blob.name and found.repo == repo
