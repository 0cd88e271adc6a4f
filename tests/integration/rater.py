"""A simulated rater with a hidden taste who uses MemeThresher only through its HTTP API."""

from __future__ import annotations

import io
import math
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(variables: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """The API under uvicorn in its own process, as a person runs it, logging to `log`."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "memethresher_api.main:create_app", "--port", str(port)]
    return subprocess.Popen(command, env=variables, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def hidden_taste(image_bytes: bytes) -> float:
    """The rater likes bright, warm pictures: a taste the image features can reveal."""
    pixels = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB"), dtype=np.float64) / 255.0
    brightness = pixels.mean()
    warmth = (pixels[..., 0] - pixels[..., 2]).mean()
    return 6.0 * brightness + 4.0 * warmth


@dataclass
class Rater:
    client: httpx.Client
    seed: int = 0
    tastes: dict[int, float] = field(default_factory=dict)
    origins: list[str] = field(default_factory=list)

    def taste(self, meme: dict) -> float:
        if meme["id"] not in self.tastes:
            response = self.client.get(meme["image_url"])
            response.raise_for_status()
            self.tastes[meme["id"]] = hidden_taste(response.content)
        return self.tastes[meme["id"]]

    def rate_one(self, rng: random.Random) -> dict:
        pair = self.client.get("/api/pairs/next")
        pair.raise_for_status()
        body = pair.json()
        a, b = body["a"], body["b"]
        self.origins.append(body["origin"])
        gap = self.taste(a) - self.taste(b)
        p_a = 1.0 / (1.0 + math.exp(-gap))  # Bradley-Terry noise on every answer
        if rng.random() < p_a:
            choice = "a+" if gap > 1.5 else "a"
        else:
            choice = "b+" if gap < -1.5 else "b"
        extra = {k: body[k] for k in ("pair_id",) if body.get(k) is not None}
        saved = self.client.post("/api/ratings", json={"a": a["id"], "b": b["id"], "choice": choice, **extra})
        assert saved.status_code == 201, saved.text
        return saved.json()

    def rate_until(self, done, max_ratings: int, timeout_s: float) -> int:  # type: ignore[no-untyped-def]
        """Rate pairs until `done(stats)` holds; returns how many ratings it took."""
        rng = random.Random(self.seed)
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            stats = self.client.get("/api/stats").json()
            if done(stats):
                return count
            if count < max_ratings:
                self.rate_one(rng)
                count += 1
            else:
                time.sleep(0.5)  # enough ratings given; wait for the trainer
        raise AssertionError(f"not done after {count} ratings and {timeout_s}s: {stats}")


def wait_for_stats(client: httpx.Client, predicate, timeout_s: float) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    stats: dict = {}
    while time.monotonic() < deadline:
        try:
            stats = client.get("/api/stats").json()
            if predicate(stats):
                return stats
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s; last stats: {stats}")
