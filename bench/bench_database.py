"""What the benchmarks share: the server to run on, a fresh database of their own there, and
the tenants the rollout benchmark leaves in it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
import psycopg.errors
from sqlalchemy.engine import make_url

from toolkit import DatabaseUnreachable, SchemaNotReady, make_engine, mask_url, migration_status
from toolkit.db import connect
from toolkit.sql import quote_identifier


def add_database_url_option(parser: argparse.ArgumentParser) -> None:
    """``--database-url``: any database on the server (default ``$DATABASE_URL``)."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="any database on the server to use; the bench creates its own database there",
    )


def rollout_database(tenants: int) -> str:
    """The name of the rollout benchmark's database with ``tenants`` tenants (also read by
    ``floor_parallelism.py``, which replays on its tenants)."""
    return f"tenantctl_bench_{tenants}"


def settle(url: str) -> None:
    """Write out what the server holds dirty now (``CHECKPOINT``), untimed, before a timed
    measurement.

    A checkpoint syncs every file written since the last one; with thousands of tenant
    schemas that is tens of thousands of files and seconds of disk time, which would land
    in whichever measurement happens to be running. A fresh checkpoint also restarts the
    server's ``checkpoint_timeout`` clock, so no timed checkpoint starts within a
    measurement shorter than that (5 minutes by default). Needs a superuser or a member of
    ``pg_checkpoint``; without that, measurements go on unsettled.
    """
    try:
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        print(f"not settled before measuring: {mask_url(url)} may not CHECKPOINT", file=sys.stderr)


def libpq_url(url: str) -> str:
    """``url`` (a SQLAlchemy URL) as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on ``server_url``'s server."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on ``server_url``'s server; returns its URL."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
        connection.execute(f"CREATE DATABASE {quote_identifier(name)}")
    return database_url(server_url, name)


@dataclass(frozen=True)
class BenchTenants:
    """What a diagnostic on the rollout benchmark's tenants runs on."""

    url: str  # the database ``make bench`` left for that many tenants
    schemas: list[str]
    repeat: int  # rounds; the diagnostic reports medians


def bench_tenants(description: str, argv: Sequence[str] | None) -> BenchTenants:
    """Parse ``--tenants N``, ``--repeat`` and ``--database-url`` for a diagnostic that runs
    on the tenants ``make bench`` left, and find them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; times are the medians")
    add_database_url_option(parser)
    args = parser.parse_args(argv)
    url = database_url(args.database_url, rollout_database(args.tenants))
    return BenchTenants(url=url, schemas=bench_schemas(url), repeat=args.repeat)


def bench_schemas(url: str) -> list[str]:
    """The tenant schemas of the rollout benchmark's database, which must be at head."""
    engine = make_engine(url)
    try:
        with connect(engine) as connection:
            report = migration_status(connection)
    except (SchemaNotReady, DatabaseUnreachable) as exc:
        raise SystemExit(f"{exc}: run `make bench BENCH_TENANTS=N` first") from None
    finally:
        engine.dispose()
    if not report.up_to_date:
        raise SystemExit("the bench database is not at head: run `make bench` again")
    return [version.tenant.database_schema for version in report.tenants]
