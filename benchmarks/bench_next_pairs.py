"""PostgreSQL's execution time of the rating page's next-pairs query, with one and with two rating axes.

    python benchmarks/bench_next_pairs.py [--pairs 2000] [--runs 20]

Each axis gets one acquisition batch of `--pairs` pending pairs over 500 memes; the query (as the API
builds it, `pairs._acquisition_statement`) asks for the next 4, for every axis and for one axis, and
EXPLAIN ANALYZE times it `--runs` times. Prints a table and writes benchmarks/results/next_pairs.json.
The axes' batches take turns (ordered by position first): the index must still hand the first
pending pairs over without sorting every pending pair.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from memethresher_api.pairs import _acquisition_statement
from memethresher_shared.migrate import upgrade

RESULTS = Path(__file__).parent / "results" / "next_pairs.json"
ADMIN_URL = os.environ.get("MEMETHRESHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fill(connection: sa.Connection, axes: list[str], pairs: int) -> None:
    connection.exec_driver_sql(
        "INSERT INTO memes (sha256, storage_key, title, format, width, height, byte_size, status, in_library,"
        " added_at) SELECT md5(g::text) || md5(g::text), g::text, '', 'PNG', 1, 1, 1, 'embedded', false, now()"
        " FROM generate_series(1, 500) g"
    )
    connection.exec_driver_sql(
        "INSERT INTO model_versions (encoder, config, metrics, artifact, n_ratings, is_current, pinned, created_at)"
        " VALUES ('bench', '{}', '{}', '', 0, true, false, now())"
    )
    for axis in axes:
        batch = connection.execute(
            sa.text(
                "INSERT INTO acquisition_batches (model_version_id, strategy, axis, created_at)"
                " VALUES (1, 'uncertainty', :axis, now()) RETURNING id"
            ),
            {"axis": axis},
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO acquisition_pairs (batch_id, a_id, b_id, position, acquisition, status)"
                " SELECT :batch, 1 + mod(g, 500), 1 + mod(g * 7 + 1, 500), g, 1.0, 'pending'"
                " FROM generate_series(0, :last) g ON CONFLICT DO NOTHING"
            ),
            {"batch": batch, "last": pairs - 1},
        )
    connection.exec_driver_sql("ANALYZE")


def execution_ms(connection: sa.Connection, one_axis: bool, runs: int) -> list[float]:
    compiled = _acquisition_statement(False, one_axis).compile(connection.engine)
    parameters = compiled.construct_params({"encoder": "bench", "count": 4, "axis": "overall"})
    times = []
    for _ in range(runs):
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), parameters).scalar()
        times.append(float(plan[0]["Execution Time"]))
    return times


def measure(axes: list[str], pairs: int, runs: int) -> dict[str, Any]:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mt_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            fill(connection, axes, pairs)
        with engine.connect() as connection:
            every, one = execution_ms(connection, False, runs), execution_ms(connection, True, runs)
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return {
        "axes": axes,
        "pending_pairs": pairs * len(axes),
        "every_axis_ms": {"min": min(every), "median": statistics.median(every)},
        "one_axis_ms": {"min": min(one), "median": statistics.median(one)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000, help="pending pairs per axis")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rows = [measure(axes, args.pairs, args.runs) for axes in (["overall"], ["overall", "funny"])]
    print(f"{'axes':<18} {'pending':>8} {'every axis ms (min/median)':>28} {'one axis ms (min/median)':>26}")
    for row in rows:
        every, one = row["every_axis_ms"], row["one_axis_ms"]
        print(f"{'+'.join(row['axes']):<18} {row['pending_pairs']:>8} {every['min']:>14.3f} / {every['median']:<11.3f}"
              f" {one['min']:>12.3f} / {one['median']:<11.3f}")  # fmt: skip
    RESULTS.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                   "load_average": os.getloadavg(), "runs": rows}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
