"""The raw-SQL floor both rollout benchmarks measure against: statements replayed per
tenant over plain psycopg connections, one transaction per tenant, nothing else.

``settings`` are further ``SET LOCAL`` statements sent with each tenant's search path, in
the same round trip (the rollout benchmark uses one to keep tenantctl's version trigger
from firing on the version row: a plain Alembic database has no such trigger)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Barrier
from typing import Any

import psycopg
from bench_database import libpq_url

from toolkit.sql import quote_identifier


def replay(
    url: str, schemas: Sequence[str], statements: Sequence[str], settings: Sequence[str] = ()
) -> float:
    """Seconds to replay ``statements`` in each schema over one connection."""
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        started = time.perf_counter()
        _apply_per_tenant(connection, schemas, statements, settings)
        return time.perf_counter() - started


def replay_in_two_processes(
    url: str, schemas: Sequence[str], statements: Sequence[str], settings: Sequence[str] = ()
) -> float:
    """The same split over two processes, half the schemas each, timed from when both are
    connected."""
    context = multiprocessing.get_context("fork")  # nothing is connected in this process now
    ready = context.Barrier(3)
    halves = [schemas[0::2], schemas[1::2]]
    processes = [
        context.Process(target=_replay_half, args=(url, half, statements, settings, ready))
        for half in halves
    ]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a floor process failed (exit code {process.exitcode})")
    return time.perf_counter() - started


def _replay_half(
    url: str,
    schemas: Sequence[str],
    statements: Sequence[str],
    settings: Sequence[str],
    ready: Barrier,
) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        ready.wait()
        _apply_per_tenant(connection, schemas, statements, settings)


def _apply_per_tenant(
    connection: psycopg.Connection[Any],
    schemas: Sequence[str],
    statements: Sequence[str],
    settings: Sequence[str],
) -> None:
    """Per tenant one transaction: SET LOCAL search_path (with ``settings``), then each
    statement."""
    prelude = "".join(f"; {setting}" for setting in settings)
    for schema in schemas:
        with connection.transaction():
            connection.execute(f"SET LOCAL search_path TO {quote_identifier(schema)}{prelude}")
            for statement in statements:
                connection.execute(statement)
