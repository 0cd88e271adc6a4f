"""API latency under concurrent raters: uvicorn serving the API on PostgreSQL and Redis, and N
simulated raters (each: fetch the next pair, post a rating, fetch the pair's two images).

    python benchmarks/bench_api.py [--quick] [--raters 20] [--seconds 30]

Writes benchmarks/results/api.json. Target on a 2-core machine, 20 raters: p99 < 50 ms for
both next-pair and rating. The raters run on the same machine as the server, on one asyncio loop, each with its own
keep-alive connection (a small HTTP/1.1 client: httpx cost as much CPU as the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "api.json"
POSTGRES_ADMIN = os.environ.get("MEMETHRESHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CHOICES = ("a+", "a", "tie", "b", "b+")


def seed(memes: int, batch_pairs: int) -> None:
    """Memes with real images and vectors, a current model and an acquisition batch."""
    from tests.api.helpers import add_batch, add_memes, add_model

    ids = add_memes(memes)
    rng = random.Random(0)
    pairs = set()
    while len(pairs) < batch_pairs:
        a, b = rng.sample(ids, 2)
        pairs.add((a, b))
    add_batch(add_model(), sorted(pairs))


class Connection:
    """One rater's keep-alive HTTP/1.1 connection, on asyncio streams.

    The raters share two cores with the server, so their client must cost little: httpx spent
    about as much CPU per request as the server did. This speaks just what the benchmark needs
    (Content-Length bodies, keep-alive) and raises on any status >= 400, like raise_for_status."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if method == "POST":
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line, _, headers = (await self.reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:200]!r}")
        return data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def rater(
    connection: Connection,
    until: float,
    samples: dict[str, list[float]],
    rng: random.Random,
    think_s: float,
) -> None:
    while time.perf_counter() < until:
        if think_s:  # a person looks at the pair before choosing; jittered so raters do not march in step
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)
        t0 = time.perf_counter()
        pair = json.loads(await connection.request("GET", "/api/pairs/next"))
        t1 = time.perf_counter()
        body = {
            "a": pair["a"]["id"],
            "b": pair["b"]["id"],
            "choice": rng.choice(CHOICES),
            "pair_id": pair.get("pair_id"),
        }
        await connection.request("POST", "/api/ratings", json.dumps(body).encode())
        t2 = time.perf_counter()
        for side in ("a", "b"):
            await connection.request("GET", pair[side]["thumb_url"])
        t3 = time.perf_counter()
        samples["next_pair"].append(t1 - t0)
        samples["rate"].append(t2 - t1)
        samples["images"].append(t3 - t2)


async def drive(url: str, raters: int, seconds: float, think_s: float) -> tuple[dict[str, list[float]], float]:
    samples: dict[str, list[float]] = {"next_pair": [], "rate": [], "images": []}
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connections = [Connection(host, int(port)) for _ in range(raters)]
    try:
        # Warm-up: connections, caches and thumbnails, then the measured window.
        warm = {"next_pair": [], "rate": [], "images": []}  # type: dict[str, list[float]]
        await asyncio.gather(
            *(rater(c, time.perf_counter() + 2, warm, random.Random(i), think_s) for i, c in enumerate(connections))
        )
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(
            *(rater(c, until, samples, random.Random(100 + i), think_s) for i, c in enumerate(connections))
        )
        elapsed = time.perf_counter() - start
    finally:
        for connection in connections:
            connection.close()
    return samples, elapsed


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a process and its children (uvicorn with --workers forks)."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 2) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 s window, fewer memes")
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause before each choice (0: raters fire back to back, a saturation test)",
    )
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    memes, batch_pairs = (100, 200) if args.quick else (500, 2000)

    from memethresher_shared import db
    from memethresher_shared.embedded_redis import EmbeddedRedis
    from memethresher_shared.migrate import upgrade

    from tests.api.helpers import Server

    name = f"mt_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database_url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with tempfile.TemporaryDirectory(prefix="mt-bench-api-") as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis", persist=False)
        env = {
            "MEMETHRESHER_DATABASE_URL": database_url,
            "MEMETHRESHER_BROKER_URL": redis_server.start(),
            "MEMETHRESHER_DATA_DIR": str(root),
            "MEMETHRESHER_STORAGE": str(root / "images"),
            "MEMETHRESHER_LIBRARY_DIR": str(root / "library"),
        }
        os.environ.update(env)
        db.reset_caches()
        server = None
        try:
            upgrade(database_url)
            seed(memes, batch_pairs)
            server = Server(env, root / "uvicorn.log", workers=args.workers)
            server.wait_ready()
            server_process = psutil.Process(server.process.pid)
            server_cpu0, client_cpu0 = cpu_seconds(server_process), time.process_time()
            samples, elapsed = asyncio.run(drive(server.url, args.raters, seconds, args.think_ms / 1000))
            server_cpu = cpu_seconds(server_process) - server_cpu0
            client_cpu = time.process_time() - client_cpu0
        finally:
            if server is not None:
                server.stop()
            redis_server.stop()
            db.reset_caches()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    requests = 4 * len(samples["next_pair"])
    figures = {
        "machine": "2-core CPU dev machine, no GPU (raters share the machine with the server)",
        "raters": args.raters,
        "uvicorn_workers": args.workers,
        "think_ms": args.think_ms,
        "seconds": round(elapsed, 2),
        "memes": memes,
        "ratings_posted": len(samples["rate"]),
        "requests_per_s": round(requests / elapsed, 1),
        "next_pair_p50_ms": percentile_ms(samples["next_pair"], 50),
        "next_pair_p99_ms": percentile_ms(samples["next_pair"], 99),
        "rate_p50_ms": percentile_ms(samples["rate"], 50),
        "rate_p99_ms": percentile_ms(samples["rate"], 99),
        "two_images_p99_ms": percentile_ms(samples["images"], 99),
        # Both include warm-up; they show how the two cores were shared between server and raters.
        "server_cpu_s": round(server_cpu, 1),
        "raters_cpu_s": round(client_cpu, 1),
        "quick": args.quick,
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = RESULTS if not args.think_ms else RESULTS.with_name(f"api_think{int(args.think_ms)}ms.json")
    results.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"target: next_pair_p99_ms < 50 and rate_p99_ms < 50 with 20 raters -> {results}")


if __name__ == "__main__":
    main()
