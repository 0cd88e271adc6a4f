"""The engine batches images across tasks, decodes JPEGs the device's way, and keeps faults to their task."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from memethresher_embedder.device_decode import EncodedJpeg, assemble, device_jpeg, resize_on_device
from memethresher_embedder.encoders import get_encoder
from memethresher_embedder.engine import Engine
from memethresher_embedder.pipeline import BatchVectors
from memethresher_embedder.preprocess import PreprocessSpec, prepare_image
from PIL import Image

from tests.embedder.conftest import TINY, photo_jpeg

SQUASH = PreprocessSpec(size=64, resize_mode="squash")
SHORTEST = PreprocessSpec(size=64, resize_mode="shortest", crop_pct=0.875)


def write_files(folder: Path, count: int, start: int = 0) -> list[tuple[int, Path]]:
    files = []
    for i in range(start, start + count):
        path = folder / f"{i}.jpg"
        path.write_bytes(photo_jpeg(i))
        files.append((i, path))
    return files


def test_the_model_takes_full_batches_across_task_boundaries(tmp_path: Path) -> None:
    engine = Engine(get_encoder(TINY), prep_workers=1, model_batch=4, ready_batches=2, device_decode=False)
    written: list[BatchVectors] = []
    tasks = [write_files(tmp_path, 5, start=5 * t) for t in range(3)]
    # The first file is a pipe that yields its image only once all three tasks are in, as if a slow
    # disk held the decode thread, so nothing is decoded while the tasks arrive.
    first = tasks[0][0][1]
    image = first.read_bytes()
    first.unlink()
    os.mkfifo(first)
    # Three tasks of five images at once: per task that would be forward passes of 4, 1, 4, 1, 4, 1.
    futures = [engine.submit(files, written.append) for files in tasks]
    first.write_bytes(image)  # blocks until the decode thread opens the pipe, then lets it read
    outcomes = [future.result(timeout=60) for future in futures]
    assert engine.batch_sizes == {4: 3, 3: 1}
    assert [sorted(o.vectors) for o in outcomes] == [list(range(5 * t, 5 * t + 5)) for t in range(3)]
    assert len(written) == 3, "each task's outcome is written once, before its future resolves"


def test_a_failing_write_fails_only_its_own_task(tmp_path: Path) -> None:
    engine = Engine(get_encoder(TINY), prep_workers=2, model_batch=4, ready_batches=2, device_decode=False)

    def broken_write(_: BatchVectors) -> None:
        raise OSError("database gone")

    doomed = engine.submit(write_files(tmp_path, 3), broken_write)
    fine = engine.submit(write_files(tmp_path, 3, start=3), lambda _: None)
    with pytest.raises(OSError, match="database gone"):
        doomed.result(timeout=60)
    assert sorted(fine.result(timeout=60).vectors) == [3, 4, 5]


def test_an_empty_task_is_still_written(tmp_path: Path) -> None:
    engine = Engine(get_encoder(TINY), prep_workers=1, model_batch=4, ready_batches=1, device_decode=False)
    called = threading.Event()
    engine.submit([], lambda _: called.set()).result(timeout=10)
    assert called.is_set()


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("spec", [SQUASH, SHORTEST], ids=["squash", "shortest"])
def test_device_resizing_matches_pillow_closely(spec: PreprocessSpec) -> None:
    data = photo_jpeg(3, size=300)
    jpeg = device_jpeg(data)
    assert jpeg is not None
    batch, kept, failed = assemble([jpeg], spec, torch.device("cpu"))
    assert batch is not None and kept == [0] and not failed
    device = batch[0].numpy().astype(float)
    pillow = prepare_image(data, spec).astype(float)
    assert device.shape == pillow.shape == (3, 64, 64)
    assert np.abs(device - pillow).mean() < 6, "same picture, up to resampling and IDCT rounding"


def test_the_device_decoder_turns_photos_upright_by_exif(jpeg: Callable) -> None:
    wide = Image.new("RGB", (120, 60), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 60, 60))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    data = jpeg_bytes(wide, exif=exif.tobytes())
    jpeg = device_jpeg(data)
    assert jpeg is not None
    batch, _, _ = assemble([jpeg], SQUASH, torch.device("cpu"))
    assert batch is not None
    pillow = prepare_image(data, SQUASH).astype(float)
    assert np.abs(batch[0].numpy().astype(float) - pillow).mean() < 6
    assert batch[0, 2, :10].float().mean() > 200, "the blue half ends on top once upright"


def test_only_plain_jpegs_go_to_the_device() -> None:
    photo = Image.open(io.BytesIO(photo_jpeg(1)))
    png = io.BytesIO()
    photo.save(png, "PNG")
    assert device_jpeg(png.getvalue()) is None
    assert device_jpeg(jpeg_bytes(photo.convert("CMYK"))) is None  # Pillow converts CMYK the browser's way
    assert isinstance(device_jpeg(jpeg_bytes(photo.convert("L"))), EncodedJpeg)
    assert device_jpeg(b"\xff\xd8\xff\xe0 not really a jpeg") is None


def test_a_batch_mixing_arrays_and_jpegs_keeps_its_order_and_names_the_bad_file() -> None:
    good = device_jpeg(photo_jpeg(2))
    cut = photo_jpeg(4)
    bad = EncodedJpeg(cut[: len(cut) // 3])  # header fine, picture cut off
    array = prepare_image(photo_jpeg(5), SQUASH)
    assert good is not None
    batch, kept, failed = assemble([array, bad, good], SQUASH, torch.device("cpu"))
    assert batch is not None and kept == [0, 2]
    assert "truncated or corrupt" in failed[1]
    np.testing.assert_array_equal(batch[0].numpy(), array)


def test_resizing_on_the_device_gives_uint8_of_the_model_size() -> None:
    image = torch.randint(0, 256, (3, 90, 200), dtype=torch.uint8)
    out = resize_on_device(image, SHORTEST)
    assert out.dtype == torch.uint8 and tuple(out.shape) == (3, 64, 64)


def test_decode_threads_follow_a_containers_cpu_limit(tmp_path: Path) -> None:
    from memethresher_embedder.settings import available_cores

    limit = tmp_path / "cpu.max"
    limit.write_text("100000 100000\n")  # a limit of one core
    assert available_cores(limit) == 1
    limit.write_text("max 100000\n")
    assert available_cores(limit) == available_cores(tmp_path / "absent") >= 1
