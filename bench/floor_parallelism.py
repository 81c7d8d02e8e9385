"""Diagnostic: how much a second process gains the raw-SQL floor, per kind of DDL.

The rollout benchmark's 2-worker speed-up can be no better than what a second connection
gains the floor itself. This replays two tenant revisions on the tenants of the rollout
benchmark's database ``tenantctl_bench_<N>`` (run ``make bench`` first), over one process
and over two, ``--repeat`` times, and prints the medians with the share of both cores that
was busy (from ``/proc/stat``): a new column alone, and a new column with an index on it
(the rollout benchmark's revision). Each replay is undone, untimed, before the next, and
starts on a settled server (a checkpoint, untimed).

    .venv/bin/python bench/floor_parallelism.py --tenants 1000 [--repeat 3]
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from bench_database import bench_tenants, settle
from floor import replay, replay_in_two_processes

# (name, statements up, statements down); the tables are every tenant's own.
REVISIONS = (
    (
        "add column",
        ["ALTER TABLE orders ADD COLUMN floor_probe text"],
        ["ALTER TABLE orders DROP COLUMN floor_probe"],
    ),
    (
        "add column + index",
        [
            "ALTER TABLE orders ADD COLUMN floor_probe text",
            "CREATE INDEX ix_orders_floor_probe ON orders (floor_probe)",
        ],
        ["DROP INDEX ix_orders_floor_probe", "ALTER TABLE orders DROP COLUMN floor_probe"],
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    bench = bench_tenants(__doc__.splitlines()[0], argv)
    database, schemas = bench.url, bench.schemas
    print(
        f"{'revision':<20} {'1 process':>10} {'busy':>5} {'2 processes':>12} {'busy':>5} "
        f"{'gain':>5}"
    )
    for name, up, down in REVISIONS:
        one, two = [], []
        for _ in range(bench.repeat):
            one.append(_measured(replay, database, schemas, up))
            replay(database, schemas, down)
            two.append(_measured(replay_in_two_processes, database, schemas, up))
            replay(database, schemas, down)
        seconds_one, busy_one = _medians(one)
        seconds_two, busy_two = _medians(two)
        print(
            f"{name:<20} {seconds_one:>9.2f}s {busy_one:>4.0f}% {seconds_two:>11.2f}s "
            f"{busy_two:>4.0f}% {seconds_one / seconds_two:>4.2f}x"
        )
    return 0


def _measured(
    replay_with: Callable[[str, Sequence[str], Sequence[str]], float],
    url: str,
    schemas: Sequence[str],
    statements: Sequence[str],
) -> tuple[float, float]:
    """The replay's own timing, and the percentage of all cores busy meanwhile."""
    settle(url)
    before = _cpu_times()
    seconds = replay_with(url, schemas, statements)
    after = _cpu_times()
    total = sum(after) - sum(before)
    idle = (after[3] + after[4]) - (before[3] + before[4])  # idle and iowait
    return seconds, 100 * (total - idle) / total if total else 0.0


def _cpu_times() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(field) for field in stat.readline().split()[1:]]


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(seconds for seconds, _ in samples),
        statistics.median(busy for _, busy in samples),
    )


if __name__ == "__main__":
    raise SystemExit(main())
