"""Crawl throughput: a fake Reddit on loopback (its own process) with ~2,000 image posts of about
100 KB and a few ms of latency; the crawler takes every one end to end (fetch, sniff, decode
check, hash, store, row, enqueue). A plain sequential httpx loop over the same images is the
baseline, measured in the same run.

The crawl runs as deployed: the crawler's Celery worker (prefork, one process per core) takes the
crawl tasks of both subreddits at once, sharing the Redis rate budget. `--workers 1` gives it one
process; `--workers 0` crawls in this process, one subreddit after the other.

`--access` picks the door to the fake Reddit: `oauth` (an app's token, the default), `session` (a
logged-in cookie to www's JSON, within its default budget of 10 listing requests a minute: 800 posts,
so the 8 pages and 2 warm-ups fit in one minute), or `feed` (Atom feeds, one feed request per window
per host; the window is shortened to FEED_WINDOW_S on both sides so the run takes seconds, and the
figure that matters is the feed requests over that budget, which must be 0).

    python benchmarks/bench_crawl.py [--quick] [--workers N] [--latency-ms MS] [--access MODE]

Writes benchmarks/results/crawl.json (crawl_latency<N>ms.json with another --latency-ms,
crawl_workers<N>.json with another --workers, crawl_<mode>.json with another --access).
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
import psutil

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_LATENCY_MS = 5.0
WARMUP_SOURCES = 2  # as many as tests/support/bench_reddit.py serves
SESSION_POSTS = 800  # 8 pages + 2 warm-ups: the session budget's 10 requests of one minute
FEED_WINDOW_S = 5.0  # the feed budget's window in the feed run (Reddit's is a minute)
FEED_POSTS_PER_SOURCE = 100  # a feed crawl reads one page of 100 entries
FEED_SOURCES = 6
SESSION_COOKIE = "reddit_session=fake-session-cookie-8f2c"  # what tests/support/reddit_doors.py accepts


def start_fake(posts: int, latency_ms: float, access: str, per_source: int) -> tuple[subprocess.Popen[str], list[str]]:
    command = [sys.executable, "-m", "tests.support.bench_reddit", "--posts", str(posts),
               "--latency-ms", str(latency_ms), "--listing-cap", str(per_source)]  # fmt: skip
    if access == "feed":
        command += ["--feed-window-s", str(FEED_WINDOW_S)]
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    urls = process.stdout.readline().split()
    if len(urls) != 3:
        process.kill()
        raise RuntimeError("the fake Reddit did not start")
    return process, urls


def configure(root: Path, www_url: str, oauth_url: str, redis_url: str, access: str) -> None:
    values = {
        "DATA_DIR": str(root),
        "DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        "BROKER_URL": redis_url,
        "STORAGE": str(root / "images"),
        "REDDIT_ACCESS": access,
        "REDDIT_BASE_URL": www_url,
        "REDDIT_OAUTH_BASE_URL": oauth_url,
        "REDDIT_TOKEN_URL": f"{www_url}/api/v1/access_token",
        "REDDIT_CLIENT_ID": "fake-client",
        "REDDIT_CLIENT_SECRET": "fake-secret",
        "REDDIT_COOKIE": SESSION_COOKIE,
        "REDDIT_USERNAME": "bench",
        "ALLOWED_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
    }
    if access == "feed":
        values["REDDIT_BUDGET_WINDOW_S"] = str(FEED_WINDOW_S)
    for key, value in values.items():
        os.environ[f"MEMETHRESHER_{key}"] = value


def add_sources(posts: int, per_source: int = 1000) -> tuple[list[int], list[int]]:
    """The warm-up sources (one per crawler process) and the measured ones."""
    from memethresher_shared.db import session_scope
    from memethresher_shared.sources import add_source

    with session_scope() as session:
        warmup = [add_source(session, "reddit", f"r/warmup{n}").id for n in range(WARMUP_SOURCES)]
        # Reddit lists at most 1,000 posts, so the fake spreads them over bench0, bench1, ...
        count = (posts + per_source - 1) // per_source
        sources = [add_source(session, "reddit", f"r/bench{n}").id for n in range(count)]
    return warmup, sources


def summarise(results: list[dict], seconds: float, cpu_s: float) -> dict:
    total = {key: sum(r.get(key, 0) for r in results) for key in ("images_new", "embed_batches", "listing_requests")}
    problems = [r.get("error") or r.get("skipped") for r in results]
    total["error"] = next((problem for problem in problems if problem), None)
    total["seconds"], total["cpu_s"] = seconds, cpu_s
    return total


def run_crawl_in_process(posts: int, per_source: int) -> dict:
    """The crawl in this process, one source after another (`--workers 0`)."""
    from memethresher_crawler.crawl import crawl_source

    warmup, sources = add_sources(posts, per_source)
    crawl_source(warmup[0])  # imports, connections, the first page of a worker's life: not timed
    started, cpu_started = time.perf_counter(), time.process_time()
    results = [crawl_source(source_id) for source_id in sources]
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started  # every thread
    total = summarise(results, seconds, cpu_s)
    total["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return total


def start_worker(root: Path, concurrency: int) -> subprocess.Popen[bytes]:
    """The crawler's Celery worker as deployed (`-Q crawl`, prefork), `concurrency` processes."""
    command = [sys.executable, "-m", "celery", "-A", "memethresher_crawler.tasks", "worker", "-Q", "crawl",
               "-n", "bench-crawl@%h", "--pool", "prefork", "--concurrency", str(concurrency),
               "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"]  # fmt: skip
    env = {**os.environ, "MEMETHRESHER_METRICS_PORT": "0"}
    log = (root / "worker.log").open("wb")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def crawl_through_worker(source_ids: list[int], timeout_s: float) -> list[dict]:
    """Enqueue a crawl of every source at once and wait for each result."""
    from memethresher_shared import tasks
    from memethresher_shared.celery_app import send

    sent = [send(tasks.CRAWL_SOURCE, source_id) for source_id in source_ids]
    return [result.get(timeout=timeout_s) for result in sent]


def worker_processes(worker: subprocess.Popen[bytes]) -> list[psutil.Process]:
    parent = psutil.Process(worker.pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def peak_rss_mb(processes: list[psutil.Process]) -> float:
    """The sum of every process's own peak resident set (VmHWM): what they could hold at once."""
    total_kb = 0
    for process in processes:
        status = Path(f"/proc/{process.pid}/status").read_text()
        total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return total_kb / 1024


def run_crawl_in_workers(root: Path, posts: int, concurrency: int, per_source: int) -> dict:
    """The crawl through a real crawler worker: every source enqueued at once, `concurrency` processes."""
    warmup, sources = add_sources(posts, per_source)
    worker = start_worker(root, concurrency)
    try:
        # The first crawl of each process (imports, connections, TLS setup) is not timed.
        crawl_through_worker(warmup[:concurrency], timeout_s=120)
        processes = worker_processes(worker)
        started, cpu_started = time.perf_counter(), cpu_seconds(processes)
        results = crawl_through_worker(sources, timeout_s=600)
        seconds, cpu_s = time.perf_counter() - started, cpu_seconds(processes) - cpu_started
        total = summarise(results, seconds, cpu_s)
        total["peak_rss_mb"] = peak_rss_mb(processes)
        total["peak_rss_mb_each"] = [round(peak_rss_mb([p]), 1) for p in processes]
        total["crawler_processes"] = len(processes)
    except Exception:
        print((root / "worker.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        worker.terminate()
        worker.wait(30)
    return total


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
    parser.add_argument("--workers", type=int, default=2, choices=range(WARMUP_SOURCES + 1),
                        help="crawler processes (prefork concurrency); 0: crawl in this process")  # fmt: skip
    parser.add_argument("--access", choices=("oauth", "session", "feed"), default="oauth",
                        help="the door to the fake Reddit (see above)")  # fmt: skip
    args = parser.parse_args()
    full = {"oauth": 2000, "session": SESSION_POSTS, "feed": FEED_SOURCES * FEED_POSTS_PER_SOURCE}[args.access]
    posts = args.posts or (300 if args.quick else full)
    # A session's posts are two subreddits (one per crawler process): 800 posts, two of 400.
    per_source = {"oauth": 1000, "session": min(1000, -(-posts // 2)), "feed": FEED_POSTS_PER_SOURCE}[args.access]
    sys.path.insert(0, str(REPO))

    from memethresher_crawler.settings import get_crawler_settings
    from memethresher_shared.db import reset_caches
    from memethresher_shared.embedded_redis import EmbeddedRedis
    from memethresher_shared.migrate import upgrade

    fake, (base_url, oauth_url, image_url) = start_fake(posts, args.latency_ms, args.access, per_source)
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis", persist=False)
        try:
            configure(root, base_url, oauth_url, redis_server.start(), args.access)
            reset_caches()
            get_crawler_settings.cache_clear()
            upgrade(os.environ["MEMETHRESHER_DATABASE_URL"])
            # The stand-in's CPU competes with the crawler's on this machine; the warm-up is in it too.
            fake_cpu_started = cpu_seconds([psutil.Process(fake.pid)])
            if args.workers:
                result = run_crawl_in_workers(root, posts, args.workers, per_source)
            else:
                result = run_crawl_in_process(posts, per_source)
            fake_cpu_s = cpu_seconds([psutil.Process(fake.pid)]) - fake_cpu_started
            baseline = run_baseline(image_url, posts)
            # The budget in force (a MEMETHRESHER_REDDIT_*_REQUESTS_PER_MINUTE may raise it), not the default.
            per_minute = get_crawler_settings().budget_per_minute(args.access)
            stats = httpx.get(f"{base_url}/_fake/stats", params={"per_minute": per_minute}).json()
        finally:
            redis_server.stop()
            fake.stdin.close()  # type: ignore[union-attr]
            fake.wait(10)
    if result["error"] or result["images_new"] != posts:
        raise SystemExit(f"crawl incomplete: {result}")
    seconds = result["seconds"]
    images_per_s = result["images_new"] / seconds
    figures = {
        "access": args.access,
        "posts": posts,
        "latency_ms": args.latency_ms,
        "seconds": round(seconds, 2),
        "images_per_s": round(images_per_s, 1),
        "baseline_images_per_s": round(baseline, 1),
        "speedup": round(images_per_s / baseline, 2),
        "crawler_cpu_ms_per_image": round(1000 * result["cpu_s"] / posts, 2),
        "fake_reddit_cpu_ms_per_image": round(1000 * fake_cpu_s / posts, 2),
        "crawler_processes": result.get("crawler_processes", 1),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "peak_rss_mb_each": result.get("peak_rss_mb_each", []),
        "listing_requests": stats["listing_requests"],
        "requests_over_budget": stats["requests_over_budget"],
        "budget_per_minute": per_minute,
        "feed_requests": stats["feed_requests"],
        "feed_requests_over_budget": stats["feed_requests_over_budget"],
        "feed_429s": stats["feeds_refused"],
        "embed_batches": result["embed_batches"],
        "machine": os.environ.get("BENCH_MACHINE", f"{os.cpu_count()}-core CPU"),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    suffix = "" if args.latency_ms == DEFAULT_LATENCY_MS else f"_latency{args.latency_ms:g}ms"
    suffix += "" if args.workers == 2 else f"_workers{args.workers}"
    suffix += "" if args.access == "oauth" else f"_{args.access}"
    path = RESULTS / f"crawl{suffix}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.access == "feed":
        print(f"target: feed_requests_over_budget == 0, feed_429s == 0 (a {FEED_WINDOW_S:g} s window)  -> {path}")
    else:
        print(f"target: images_per_s >= 400, peak_rss_mb < 400, requests_over_budget == 0  -> {path}")


if __name__ == "__main__":
    main()
