"""What both benchmarks share: the server to run on, and a fresh database of their own there."""

from __future__ import annotations

import argparse
import os

import psycopg
from sqlalchemy.engine import make_url

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


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on ``server_url``'s server; returns its URL."""
    parsed = make_url(server_url)
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
        connection.execute(f"CREATE DATABASE {quote_identifier(name)}")
    return parsed.set(database=name).render_as_string(hide_password=False)
