"""The README's screenshots, from a real demo session (`make screenshots`).

Runs `memethresher up --demo` in a temp folder (sample memes, SQLite, an embedded Redis on a unix
socket, one real Celery worker per queue), rates pairs through the HTTP API as a person with a taste
for bright pictures would until a model is trained and the curation queue fills, labels memes for
the evaluation report, then opens each page in Chromium and writes docs/screenshots/<page>.png.

    python tools/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageStat

REPO = Path(__file__).resolve().parents[1]
PAGES = ("rate", "curate", "evaluate", "models", "dashboard", "sources")
RATINGS = 45  # past the default MEMETHRESHER_RETRAIN_EVERY (20): the first model trains by itself
LABELS = 24


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo(root: Path, port: int) -> subprocess.Popen[bytes]:
    """`memethresher up --demo` on its embedded defaults, with its data under `root`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMETHRESHER_")}
    env |= {"MEMETHRESHER_PORT": str(port), "MEMETHRESHER_FLOWER_PORT": str(free_port()),
            "MEMETHRESHER_METRICS_PORT": str(free_port()), "MEMETHRESHER_LOG_FORMAT": "text"}  # fmt: skip
    log = (root / "up.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "memethresher_shared.cli", "up", "--demo"], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def wait_for(client: httpx.Client, what: str, done: Callable[[dict[str, Any]], bool], timeout_s: float,
             up: subprocess.Popen[bytes]) -> dict[str, Any]:  # fmt: skip
    """Poll /api/stats until `done(stats)`; fail with what was awaited."""
    deadline, stats = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise RuntimeError(f"memethresher up exited with {up.returncode} while waiting for {what}")
        try:
            stats = client.get("/api/stats").json()
            if done(stats):
                return stats
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"no {what} within {timeout_s:.0f}s: {stats}")


class Taste:
    """A person who likes bright pictures, judging each meme by its thumbnail."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.seen: dict[int, float] = {}

    def __call__(self, meme: dict[str, Any]) -> float:
        if meme["id"] not in self.seen:
            data = self.client.get(meme["thumb_url"]).raise_for_status().content
            self.seen[meme["id"]] = ImageStat.Stat(Image.open(io.BytesIO(data)).convert("L")).mean[0] / 255
        return self.seen[meme["id"]]


def rate(client: httpx.Client, taste: Taste, count: int) -> None:
    rng = random.Random(0)
    for _ in range(count):
        pair = client.get("/api/pairs/next").raise_for_status().json()
        gap = taste(pair["a"]) - taste(pair["b"]) + rng.gauss(0, 0.05)
        choice = ("a+" if gap > 0.2 else "a") if gap > 0 else ("b+" if gap < -0.2 else "b")
        extra = {"pair_id": pair["pair_id"]} if pair.get("pair_id") is not None else {}
        body = {"a": pair["a"]["id"], "b": pair["b"]["id"], "choice": choice, **extra}
        client.post("/api/ratings", json=body).raise_for_status()


def label(client: httpx.Client, taste: Taste, count: int) -> None:
    for _ in range(count):
        meme = client.get("/api/evaluation/next").raise_for_status().json()["meme"]
        body = {"meme_id": meme["id"], "good": taste(meme) > 0.45}
        client.post("/api/evaluation/labels", json=body).raise_for_status()


def shoot(base: str, out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    ready = {
        "rate": "document.getElementById('pair').dataset.serial === '1'",
        "curate": "!!document.getElementById('item-img').dataset.memeId",
        "evaluate": "document.querySelectorAll('#report svg').length > 0",
        "models": "document.querySelectorAll('#model-list tr').length > 1",
        "dashboard": "[...document.querySelectorAll('#workers li')].some((li) => li.textContent.includes('@'))",
        "sources": "document.body.textContent.includes('sample-memes')",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page(viewport={"width": 1280, "height": 860}, base_url=base)
        for page in PAGES:
            tab.goto(f"/{page}")
            tab.wait_for_function(ready[page], timeout=30000)
            tab.wait_for_load_state("networkidle")
            tab.screenshot(path=str(out / f"{page}.png"), full_page=page == "evaluate")
            print(f"wrote {out / page}.png")
        browser.close()


def demo_session(client: httpx.Client, up: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Rate until a model is trained, retrain once (so the Models page has history), score every meme
    with the newest model, and label memes for the evaluation report. Returns the final /api/stats."""
    wait_for(client, "every sample meme embedded", lambda s: s["memes"] >= 300 and s["embedded"] == s["memes"], 600, up)
    taste = Taste(client)
    rate(client, taste, RATINGS)
    trained = wait_for(client, "a model trained on the ratings", lambda s: s["model_versions"] >= 1, 600, up)
    client.post("/api/models/retrain").raise_for_status()
    wait_for(client, "a retrained model", lambda s: s["model_versions"] > trained["model_versions"], 600, up)
    client.post("/api/models/rescore").raise_for_status()
    wait_for(client, "every meme scored and a curation queue",
             lambda s: s["scored"] == s["embedded"] and s["curation_pending"] > 0, 600, up)  # fmt: skip
    label(client, taste, LABELS)
    return dict(client.get("/api/stats").raise_for_status().json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memethresher-screenshots-") as folder:
        root, port = Path(folder), free_port()
        up = start_demo(root, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                print(f"demo session: {demo_session(client, up)}")
                shoot(f"http://127.0.0.1:{port}", args.out, args.chromium)
        finally:
            up.send_signal(signal.SIGINT)  # `up` stops its children in order
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()
                print(f"memethresher up did not stop; see {root / 'up.log'}", file=sys.stderr)


if __name__ == "__main__":
    main()
