"""One embedding engine per process and encoder, shared by every task the worker holds.

Decode threads read and preprocess images into a bounded queue; one model thread takes
fixed-size batches from that queue whatever task the images belong to, so the model does not
stop at a task's end; one writer thread stores each task's vectors when its last image is done,
off the model's path. A task waits on its own future and is acknowledged only after its write.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memethresher_embedder.device_decode import EncodedJpeg, assemble, device_jpeg
from memethresher_embedder.encoders import Encoder, get_encoder
from memethresher_embedder.pipeline import BatchVectors, read_file
from memethresher_embedder.preprocess import ImageRejected, prepare_image
from memethresher_embedder.settings import get_embedder_settings

log = logging.getLogger(__name__)

Write = Callable[[BatchVectors], None]
# How long the model waits for a decode in progress before looking again whether any is left.
_FILL_WAIT_S = 0.05


@dataclass
class Job:
    """One task's images on their way through the engine."""

    left: int
    write: Write
    outcome: BatchVectors = field(default_factory=BatchVectors)
    done: Future[BatchVectors] = field(default_factory=Future)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, vectors: dict[int, np.ndarray], failures: dict[int, str]) -> bool:
        """Record images' outcomes; True once, when the job's last image is settled."""
        with self.lock:
            self.outcome.vectors.update(vectors)
            self.outcome.failures.update(failures)
            self.left -= len(vectors) + len(failures)
            return self.left == 0 and not self.done.done()

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if not self.done.done():
                self.done.set_exception(exc)

    def finish(self) -> None:
        with self.lock:
            if not self.done.done():
                self.done.set_result(self.outcome)


@dataclass
class Ready:
    job: Job
    meme_id: int
    image: np.ndarray | EncodedJpeg


class Engine:
    """Feeds `encoder` batches of `model_batch` images from any number of concurrent `submit` calls."""

    def __init__(
        self, encoder: Encoder, prep_workers: int, model_batch: int, ready_batches: int, device_decode: bool
    ) -> None:
        self.encoder = encoder
        self.model_batch = model_batch
        self.device_decode = device_decode
        self._pool = ThreadPoolExecutor(max_workers=prep_workers, thread_name_prefix="embed-prep")
        self._ready: queue.Queue[Ready] = queue.Queue(maxsize=model_batch * ready_batches)
        self._writes: queue.Queue[Job] = queue.Queue()
        self._decoding = 0  # images handed to the decode threads and not yet queued or failed
        self._count_lock = threading.Lock()
        # Images per forward pass run so far: full batches mean the model was kept fed.
        self.batch_sizes: Counter[int] = Counter()
        for target, name in ((self._model_loop, "embed-model"), (self._writer_loop, "embed-writer")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def submit(self, files: Sequence[tuple[int, Path]], write: Write) -> Future[BatchVectors]:
        """Embed `files`; `write` stores the outcome (on the writer thread) before the future resolves."""
        job = Job(left=len(files), write=write)
        if not files:
            self._writes.put(job)
            return job.done
        with self._count_lock:
            self._decoding += len(files)
        for meme_id, path in files:
            self._pool.submit(self._prepare, job, meme_id, path)
        return job.done

    def prepare(self, path: Path) -> np.ndarray | EncodedJpeg:
        """One file as the model thread takes it: a JPEG left encoded for the device, or a ready array."""
        data = read_file(path)
        if self.device_decode and (jpeg := device_jpeg(data)) is not None:
            return jpeg
        return prepare_image(data, self.encoder.preprocess)

    def _prepare(self, job: Job, meme_id: int, path: Path) -> None:
        try:
            self._ready.put(Ready(job, meme_id, self.prepare(path)))  # blocks while the queue is full
        except ImageRejected as exc:
            self._settle(job, {}, {meme_id: str(exc)})
        except Exception as exc:  # a fault of ours, not the image's: the task fails and is retried
            log.exception("preparing meme %d failed", meme_id)
            job.fail(exc)
        finally:
            with self._count_lock:
                self._decoding -= 1

    def _next_batch(self) -> list[Ready]:
        """Up to `model_batch` images; a short batch only when no decode that could fill it is left."""
        batch = [self._ready.get()]
        while len(batch) < self.model_batch:
            try:
                batch.append(self._ready.get(timeout=_FILL_WAIT_S))
            except queue.Empty:
                with self._count_lock:
                    if self._decoding == 0 and self._ready.empty():
                        break
        return batch

    def _model_loop(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._encode(batch)
            except Exception as exc:  # the tasks whose images were in the batch fail; the rest go on
                log.exception("encoding a batch of %d images failed", len(batch))
                for job in {id(r.job): r.job for r in batch}.values():
                    job.fail(exc)

    def _encode(self, batch: list[Ready]) -> None:
        images, kept, failed = assemble([r.image for r in batch], self.encoder.preprocess, self.encoder.device)
        vectors = self.encoder.encode_tensor(images) if images is not None else np.empty((0, 0))
        self.batch_sizes[len(kept)] += 1
        outcomes: dict[int, tuple[Job, dict[int, np.ndarray], dict[int, str]]] = {}
        for position, ready in enumerate(batch):
            entry = outcomes.setdefault(id(ready.job), (ready.job, {}, {}))
            if position in failed:
                entry[2][ready.meme_id] = failed[position]
        for row, position in enumerate(kept):
            ready = batch[position]
            outcomes[id(ready.job)][1][ready.meme_id] = vectors[row]
        for job, job_vectors, job_failures in outcomes.values():
            self._settle(job, job_vectors, job_failures)

    def _settle(self, job: Job, vectors: dict[int, np.ndarray], failures: dict[int, str]) -> None:
        if job.settle(vectors, failures):
            self._writes.put(job)

    def _writer_loop(self) -> None:
        while True:
            job = self._writes.get()
            if job.done.done():  # failed while its images were in flight: nothing to store
                continue
            try:
                job.write(job.outcome)
            except Exception as exc:
                log.exception("storing a batch's vectors failed")
                job.fail(exc)
            else:
                job.finish()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(encoder_id: str) -> Engine:
    """The process's engine for `encoder_id`, started on first use with the settings' sizes."""
    with _engines_lock:
        if encoder_id not in _engines:
            settings = get_embedder_settings()
            encoder = get_encoder(encoder_id)
            device_decode = settings.embed_device_decode == "on" or (
                settings.embed_device_decode == "auto" and encoder.device.type == "cuda"
            )
            _engines[encoder_id] = Engine(
                encoder,
                settings.embed_prep_workers,
                encoder.batch_size(settings.embed_model_batch),
                settings.embed_ready_batches,
                device_decode,
            )
        return _engines[encoder_id]
