"""API latency under concurrent raters: uvicorn serving the API on PostgreSQL and Redis, and N
simulated raters (each: fetch the next pair, post a rating, fetch the pair's two images).

    python benchmarks/bench_api.py [--quick] [--raters 20] [--seconds 30]
    python benchmarks/bench_api.py --per-request   # CPU per request by endpoint, one sequential client

Writes benchmarks/results/api.json (api_per_request.json). Target on a 2-core machine, 20 raters: p99 < 50 ms for
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
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import psutil
import sqlalchemy as sa
from memethresher_shared.settings import CHOICES

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "api.json"
POSTGRES_ADMIN = os.environ.get("MEMETHRESHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


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
    # Planner statistics, as autovacuum keeps them on a database in use (it would take up to a
    # minute to get to these fresh tables).
    from memethresher_shared.db import get_engine

    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


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


async def sequential_cpu(
    url: str, cpu: dict[str, Callable[[], float]], pending: list[tuple[int, int, int]], n: int
) -> dict[str, dict[str, float]]:
    """CPU milliseconds per request of each endpoint, by process group, with one sequential rater:
    `n` ratings of pending pairs (the batch's last), `n` rounds of next pair then its rating (next
    pair = round - rating), `n` cached thumbnails. CPU is read around each phase, not each request."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = Connection(host, int(port))
    rng = random.Random(0)
    memes: list[int] = []

    async def rate(pair_id: int, a: int, b: int) -> None:
        body = {"a": a, "b": b, "choice": rng.choice(CHOICES), "pair_id": pair_id}
        await connection.request("POST", "/api/ratings", json.dumps(body).encode())

    async def round_() -> None:
        pair = json.loads(await connection.request("GET", "/api/pairs/next"))
        await rate(pair["pair_id"], pair["a"]["id"], pair["b"]["id"])
        memes.append(pair["a"]["id"])

    async def thumbnail(i: int) -> None:
        await connection.request("GET", f"/api/memes/{memes[i % 20]}/thumb/1024")

    async def phase(work: Callable[[int], Awaitable[None]]) -> dict[str, float]:
        before = {group: read() for group, read in cpu.items()}
        for i in range(n):
            await work(i)
        return {group: (read() - before[group]) * 1000 / n for group, read in cpu.items()}

    try:
        for i in range(20):  # warm-up: connection, caches, prepared statements, thumbnails
            await round_()
            await thumbnail(i)
            await rate(*pending[-1 - i])
        rating = await phase(lambda i: rate(*pending[i]))
        whole_round = await phase(lambda i: round_())
        thumbnails = await phase(thumbnail)
    finally:
        connection.close()
    next_pair = {group: whole_round[group] - rating[group] for group in cpu}
    return {
        name: {group: round(ms, 3) for group, ms in by.items()}
        for name, by in (("next_pair", next_pair), ("rate", rating), ("thumbnail", thumbnails))
    }


def postgres_cpu() -> float:
    """CPU time of the PostgreSQL server on this machine: every process under the postmaster, and
    those already gone (backends of closed connections), which the postmaster has reaped. It counts
    every database on the server, so other work on it shows up here too."""
    total = 0.0
    for process in psutil.process_iter(["name", "ppid"]):
        if process.info["name"] != "postgres" or _is_postgres(process.info["ppid"]):
            continue
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in process.children():
                times = child.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _is_postgres(pid: int) -> bool:
    try:
        return psutil.Process(pid).name() == "postgres"
    except psutil.Error:
        return False


def sessions_opened(admin: sa.Engine, database: str) -> int:
    """Connections PostgreSQL has accepted to `database` so far (each one a new backend process)."""
    with admin.connect() as conn:
        query = "SELECT sessions FROM pg_stat_database WHERE datname = %(name)s"
        return int(conn.exec_driver_sql(query, {"name": database}).scalar_one())


def pending_pairs(count: int) -> list[tuple[int, int, int]]:
    """(pair id, a, b) of the last `count` pairs in asking order."""
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import AcquisitionPair

    with session_scope() as session:
        rows = session.execute(
            sa.select(AcquisitionPair.id, AcquisitionPair.a_id, AcquisitionPair.b_id)
            .where(AcquisitionPair.status == "pending")
            .order_by(AcquisitionPair.position.desc())
            .limit(count)
        )
        return [(pair_id, a, b) for pair_id, a, b in rows]


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
        "--per-request",
        action="store_true",
        help="instead: CPU ms per request by endpoint (server, PostgreSQL, client), one sequential client",
    )
    parser.add_argument("--requests", type=int, default=400, help="with --per-request: rounds measured")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause before each choice (0: raters fire back to back, a saturation test)",
    )
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    # Enough pending pairs that the batch does not run dry during the run (the trainer would refill it).
    memes, batch_pairs = (100, 4000) if args.quick else (500, 20000)
    if args.per_request:
        batch_pairs = max(batch_pairs, 2 * args.requests + 60)

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
            cpu = {
                "server": lambda: cpu_seconds(server_process),
                "postgres": postgres_cpu,
                "client": time.process_time,
            }
            if args.per_request:
                pending = pending_pairs(args.requests + 20)
                per_request = asyncio.run(sequential_cpu(server.url, cpu, pending, args.requests))
            else:
                before = {group: read() for group, read in cpu.items()}
                sessions0 = sessions_opened(admin, name)
                samples, elapsed = asyncio.run(drive(server.url, args.raters, seconds, args.think_ms / 1000))
                used = {group: read() - before[group] for group, read in cpu.items()}
                sessions = sessions_opened(admin, name) - sessions0
                with db.get_engine().connect() as connection:  # warm-up included; repeats are not stored
                    stored = connection.exec_driver_sql("SELECT count(*) FROM ratings").scalar_one()
        finally:
            if server is not None:
                server.stop()
            redis_server.stop()
            db.reset_caches()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.per_request:
        report = {"requests_per_endpoint": args.requests, "cpu_ms_per_request": per_request}
        print(json.dumps(report, indent=2))
        RESULTS.with_name("api_per_request.json").write_text(json.dumps(report, indent=2) + "\n")
        return
    requests = 4 * len(samples["next_pair"])
    figures = {
        "machine": "2-core CPU dev machine, no GPU (raters share the machine with the server)",
        "raters": args.raters,
        "uvicorn_workers": args.workers,
        "think_ms": args.think_ms,
        "seconds": round(elapsed, 2),
        "memes": memes,
        "ratings_posted": len(samples["rate"]),
        "ratings_stored_with_warm_up": stored,
        "requests_per_s": round(requests / elapsed, 1),
        "next_pair_p50_ms": percentile_ms(samples["next_pair"], 50),
        "next_pair_p99_ms": percentile_ms(samples["next_pair"], 99),
        "rate_p50_ms": percentile_ms(samples["rate"], 50),
        "rate_p99_ms": percentile_ms(samples["rate"], 99),
        "two_images_p99_ms": percentile_ms(samples["images"], 99),
        # These include warm-up; they show how the two cores were shared between server,
        # PostgreSQL and raters.
        "server_cpu_s": round(used["server"], 1),
        "postgres_cpu_s": round(used["postgres"], 1),
        "raters_cpu_s": round(used["client"], 1),
        "postgres_sessions_opened": sessions,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "quick": args.quick,
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    suffix = (f"_workers{args.workers}" if args.workers != 1 else "") + (
        f"_think{int(args.think_ms)}ms" if args.think_ms else ""
    )
    results = RESULTS.with_name(f"api{suffix}.json")
    results.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"target: next_pair_p99_ms < 50 and rate_p99_ms < 50 with 20 raters -> {results}")


if __name__ == "__main__":
    main()
