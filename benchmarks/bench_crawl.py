"""Crawl throughput: a fake Reddit on loopback (its own process) with ~2,000 image posts of about
100 KB and a few ms of latency; the crawler takes every one end to end (fetch, sniff, decode
check, hash, store, row, enqueue). A plain sequential httpx loop over the same images is the
baseline, measured in the same run.

    python benchmarks/bench_crawl.py [--quick]

Writes benchmarks/results/crawl.json (crawl_latency<N>ms.json with another --latency-ms).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_LATENCY_MS = 5.0
BUDGET_PER_MINUTE = 100  # Reddit's OAuth budget


def start_fake(posts: int, latency_ms: float) -> tuple[subprocess.Popen[str], str, str]:
    command = [sys.executable, "-m", "tests.support.bench_reddit", "--posts", str(posts),
               "--latency-ms", str(latency_ms)]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    urls = process.stdout.readline().split()
    if len(urls) != 2:
        process.kill()
        raise RuntimeError("the fake Reddit did not start")
    return process, urls[0], urls[1]


def configure(root: Path, base_url: str, redis_url: str) -> None:
    values = {
        "DATA_DIR": str(root),
        "DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        "BROKER_URL": redis_url,
        "STORAGE": str(root / "images"),
        "REDDIT_BASE_URL": base_url,
        "REDDIT_OAUTH_BASE_URL": base_url,
        "REDDIT_TOKEN_URL": f"{base_url}/api/v1/access_token",
        "REDDIT_CLIENT_ID": "fake-client",
        "REDDIT_CLIENT_SECRET": "fake-secret",
        "ALLOWED_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
    }
    for key, value in values.items():
        os.environ[f"MEMETHRESHER_{key}"] = value


def run_crawl(posts: int) -> tuple[dict, float]:
    from memethresher_crawler.crawl import crawl_source
    from memethresher_shared.db import session_scope
    from memethresher_shared.sources import add_source

    with session_scope() as session:
        warmup = add_source(session, "reddit", "r/warmup").id
        # Reddit lists at most 1,000 posts, so the fake spreads them over bench0, bench1, ...
        sources = [add_source(session, "reddit", f"r/bench{n}").id for n in range((posts + 999) // 1000)]
    crawl_source(warmup)  # imports, connections, the first page of a worker's life: not timed
    started, cpu_started = time.perf_counter(), time.process_time()
    results = [crawl_source(source_id) for source_id in sources]
    seconds = time.perf_counter() - started
    total = {key: sum(r[key] for r in results) for key in ("images_new", "embed_batches", "listing_requests")}
    total["error"] = next((r["error"] for r in results if r["error"]), None)
    total["cpu_s"] = time.process_time() - cpu_started  # every thread of this process
    return total, seconds


def run_baseline(image_url: str, posts: int) -> float:
    """Sequential download of the same images: the plain loop a script would write."""
    started = time.perf_counter()
    with httpx.Client() as client:
        for n in range(posts):
            response = client.get(f"{image_url}/img/b{n}.jpg")
            response.raise_for_status()
            _ = response.content
    return posts / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 posts instead of 2,000")
    parser.add_argument("--posts", type=int)
    parser.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY_MS, help="per request, injected")
    args = parser.parse_args()
    posts = args.posts or (300 if args.quick else 2000)
    sys.path.insert(0, str(REPO))

    from memethresher_crawler.settings import get_crawler_settings
    from memethresher_shared.db import reset_caches
    from memethresher_shared.embedded_redis import EmbeddedRedis
    from memethresher_shared.migrate import upgrade

    fake, base_url, image_url = start_fake(posts, args.latency_ms)
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis", persist=False)
        try:
            configure(root, base_url, redis_server.start())
            reset_caches()
            get_crawler_settings.cache_clear()
            upgrade(os.environ["MEMETHRESHER_DATABASE_URL"])
            result, seconds = run_crawl(posts)
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            baseline = run_baseline(image_url, posts)
            stats = httpx.get(f"{base_url}/_fake/stats", params={"per_minute": BUDGET_PER_MINUTE}).json()
        finally:
            redis_server.stop()
            fake.stdin.close()  # type: ignore[union-attr]
            fake.wait(10)
    if result["error"] or result["images_new"] != posts:
        raise SystemExit(f"crawl incomplete: {result}")
    images_per_s = result["images_new"] / seconds
    figures = {
        "posts": posts,
        "latency_ms": args.latency_ms,
        "seconds": round(seconds, 2),
        "images_per_s": round(images_per_s, 1),
        "baseline_images_per_s": round(baseline, 1),
        "speedup": round(images_per_s / baseline, 2),
        "crawler_cpu_ms_per_image": round(1000 * result["cpu_s"] / posts, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "listing_requests": stats["listing_requests"],
        "requests_over_budget": stats["requests_over_budget"],
        "embed_batches": result["embed_batches"],
        "machine": os.environ.get("BENCH_MACHINE", f"{os.cpu_count()}-core CPU"),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    suffix = "" if args.latency_ms == DEFAULT_LATENCY_MS else f"_latency{args.latency_ms:g}ms"
    path = RESULTS / f"crawl{suffix}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(f"target: images_per_s >= 400, peak_rss_mb < 400, requests_over_budget == 0  -> {path}")


if __name__ == "__main__":
    main()
