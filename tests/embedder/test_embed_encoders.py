import io
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from memethresher_embedder.encoders import get_encoder, load_encoder, pick_device
from memethresher_embedder.preprocess import prepare_image
from memethresher_embedder.settings import EmbedderSettings
from memethresher_embedder.weights import EncoderUnavailable, load_by_key_order
from PIL import Image
from skimage import data

from tests.embedder.conftest import trained_tiny_checkpoint

OFFLINE = "efficientnet_lite0:imagenet"
TINY = "tiny-siglip:random"
IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def jpeg_of(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_offline_encoder_is_really_pretrained_on_imagenet() -> None:
    encoder = get_encoder(OFFLINE)
    cat = prepare_image(jpeg_of(data.chelsea()), encoder.preprocess)
    with torch.inference_mode():
        logits = encoder.network(encoder.normalise_input(torch.from_numpy(cat[None])))  # (1, 1000)
    assert int(logits.argmax()) in IMAGENET_CATS
    assert float(logits.softmax(-1)[0, list(IMAGENET_CATS)].sum()) > 0.8


def test_offline_vectors_are_unit_length_and_put_alike_photos_together() -> None:
    encoder = get_encoder(OFFLINE)
    cat, coffee = data.chelsea(), data.coffee()
    images = [cat, cat[:, ::-1], coffee]  # a cat, the same cat mirrored, a cup of coffee
    vectors = encoder.encode(np.stack([prepare_image(jpeg_of(i), encoder.preprocess) for i in images]))
    assert vectors.shape == (3, 1280) and encoder.dim == 1280
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_tiny_open_clip_encoder_loads_fast_and_gives_unit_vectors() -> None:
    settings = EmbedderSettings()
    started = time.perf_counter()
    encoder = load_encoder(TINY, settings)
    assert time.perf_counter() - started < 10  # open_clip path in tests costs seconds, not minutes
    images = np.random.default_rng(0).integers(0, 255, (5, 3, 64, 64), dtype=np.uint8)
    vectors = encoder.encode(images)
    assert vectors.shape == (5, encoder.dim) == (5, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.encode(images), vectors)  # inference is deterministic


def test_get_encoder_loads_once_per_process() -> None:
    assert get_encoder(TINY) is get_encoder(TINY)


def test_missing_siglip_weights_name_the_offline_alternative(tmp_path: Path) -> None:
    # Downloads off: the same advice as after a failed download, without Hugging Face's retries.
    settings = EmbedderSettings(embedder_cache_dir=tmp_path / "empty-hf-cache", embedder_download=False)
    with pytest.raises(EncoderUnavailable, match=f"MEMETHRESHER_EMBEDDER={OFFLINE}") as error:
        load_encoder("ViT-B-16-SigLIP2:webli", settings)
    assert "not in the Hugging Face cache" in str(error.value)
    assert "MEMETHRESHER_EMBEDDER_WEIGHTS" in str(error.value)


def test_a_weights_path_that_is_not_a_file_is_named(tmp_path: Path) -> None:
    settings = EmbedderSettings(embedder_weights=tmp_path / "nope.safetensors")
    with pytest.raises(EncoderUnavailable, match="nope.safetensors is not a file"):
        load_encoder("ViT-B-16-SigLIP2:webli", settings)


def test_local_open_clip_checkpoint_is_loaded(tmp_path: Path, tiny_tag: str) -> None:
    checkpoint, trained = trained_tiny_checkpoint(tmp_path / "tiny.pt")
    loaded = load_encoder(tiny_tag, EmbedderSettings(embedder_weights=checkpoint))
    expected = trained.network.state_dict()  # type: ignore[attr-defined]
    assert all(torch.equal(value, expected[key]) for key, value in loaded.network.state_dict().items())
    assert loaded.preprocess.mean == (0.5, 0.5, 0.5)  # the tag's preprocessing, not open_clip's default


def test_weights_in_the_hugging_face_cache_load_without_a_network(tmp_path: Path, tiny_tag: str) -> None:
    cache = tmp_path / "hf"
    snapshot = cache / "models--memethresher--tiny-siglip" / "snapshots" / "0123abcd"
    trained_tiny_checkpoint(snapshot / "open_clip_pytorch_model.bin")
    (cache / "models--memethresher--tiny-siglip" / "refs").mkdir()
    (cache / "models--memethresher--tiny-siglip" / "refs" / "main").write_text("0123abcd")
    encoder = load_encoder(tiny_tag, EmbedderSettings(embedder_cache_dir=cache, embedder_download=False))
    assert encoder.dim == 64 and encoder.encoder_id == tiny_tag


def test_key_order_loading_refuses_a_shape_mismatch(tmp_path: Path) -> None:
    source = torch.nn.Sequential(OrderedDict(fc1=torch.nn.Linear(4, 3), fc2=torch.nn.Linear(3, 2)))
    checkpoint = tmp_path / "other.pth"
    torch.save(source.state_dict(), checkpoint)
    target = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 5))
    with pytest.raises(EncoderUnavailable, match=r"fc2.weight has shape \(2, 3\) but 1.weight needs \(5, 3\)"):
        load_by_key_order(target, checkpoint)


def test_cuda_asked_for_but_absent_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        pick_device("cuda")
    assert pick_device("auto").type == "cpu"


def test_a_gpu_number_format_leaves_a_cpu_encoder_in_float32() -> None:
    encoder = load_encoder("tiny-siglip:random", EmbedderSettings(embedder_device="cpu", embedder_precision="bf16"))
    assert encoder.precision == "fp32"
    assert {p.dtype for p in encoder.network.parameters()} == {torch.float32}
    vectors = encoder.encode(np.zeros((2, 3, encoder.preprocess.size, encoder.preprocess.size), np.uint8))
    assert vectors.dtype == np.float32


def test_an_unknown_number_format_is_refused() -> None:
    with pytest.raises(ValueError, match="embedder_precision"):
        EmbedderSettings(embedder_precision="int4")
