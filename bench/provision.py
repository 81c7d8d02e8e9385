"""Benchmark: provisioning N tenants one after another, against the raw-SQL floor.

On a fresh database ``tenantctl_bench_provision``, twice: with the project's history, then
with 20 extra tenant revisions that are no-ops for a new schema (data migrations that run
Python per tenant, marked ``data_only``). Each time, interleaved ``--repeat`` rounds of:

(a) floor: the tenant's DDL (the template's statements) replayed per tenant over one
    psycopg connection: one transaction per tenant with CREATE SCHEMA, SET LOCAL
    search_path, each statement on its own, and the version row; no registry row;
(b) ``toolkit.create_tenant`` (what ``tenantctl tenant create`` runs), in one process;
(c) for contrast, a few creates through Alembic revision by revision (the path used when the
    history cannot be rendered), per tenant.

Times are medians; the tenants are dropped between rounds (not timed). Prints a table, then
JSON with the ratios.

    .venv/bin/python bench/provision.py --tenants 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))  # the scratch revision tree helpers

from bench_database import add_database_url_option, fresh_database  # noqa: E402
from scratch_scripts import add_tenant_revision, make_scratch_ini  # noqa: E402

from toolkit import create_tenant, make_engine, upgrade_all  # noqa: E402
from toolkit.migrations.branches import TENANT, BranchIndex  # noqa: E402
from toolkit.migrations.config import ALEMBIC_INI_ENV, project_scripts  # noqa: E402

# The slow path's own steps, to show what the template saves.
from toolkit.provisioning import _migrate_through_alembic, _register  # noqa: E402
from toolkit.sql import create_schema, quote_identifier, set_local_search_path  # noqa: E402
from toolkit.template import render_template  # noqa: E402

BENCH_DATABASE = "tenantctl_bench_provision"
EXTRA_REVISIONS = 20
ALEMBIC_CREATES = 10
# A data migration: Python per tenant, reading and rewriting rows (none in a new schema).
NO_OP_HEAVY = """
bind = op.get_bind()
for order_id, currency in bind.execute(sa.text("SELECT id, currency FROM orders")).all():
    bind.execute(
        sa.text("UPDATE orders SET currency = :c WHERE id = :i"),
        {"c": currency.upper(), "i": order_id},
    )
"""


@dataclass
class Result:
    """Figures for one history."""

    history: str
    tenant_revisions: int
    tenants: int
    floor_ms: float
    create_ms: float
    alembic_create_ms: float
    repeat: int

    @property
    def ratio(self) -> float:
        """``create_tenant`` against the floor."""
        return self.create_ms / self.floor_ms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; times are the medians")
    add_database_url_option(parser)
    args = parser.parse_args(argv)
    url = fresh_database(args.database_url, BENCH_DATABASE)
    engine = make_engine(url)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="tenantctl-bench-") as scratch:
            short = make_scratch_ini(Path(scratch) / "short")
            results.append(_measure(engine, short, "project", args.tenants, args.repeat))
            long = make_scratch_ini(Path(scratch) / "long")
            for number in range(EXTRA_REVISIONS):
                add_tenant_revision(
                    long, f"noop{number:02d}", NO_OP_HEAVY, render_as_sql=False, data_only=True
                )
            results.append(
                _measure(engine, long, f"+{EXTRA_REVISIONS} no-op", args.tenants, args.repeat)
            )
    finally:
        engine.dispose()
    _print(results)
    return 0


def _measure(engine: Engine, ini: Path, history: str, count: int, repeat: int) -> Result:
    os.environ[ALEMBIC_INI_ENV] = str(ini)  # project_scripts() reads this tree from now on
    upgrade_all(engine)  # core, existing tenants (none) and the template
    script = project_scripts()
    template = render_template(script)
    if template is None:
        raise SystemExit("the tenant history did not render")
    statements = template.split("\n;\n")
    index = BranchIndex.build(script)
    heads = index.heads_of(script, TENANT)
    libpq = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    floors, creates, alembic_creates = [], [], []
    for _ in range(repeat):
        with psycopg.connect(libpq, autocommit=True) as floor:
            floors.append(_per_tenant(count, lambda i: _floor(floor, i, statements, heads)))
        _drop_all(engine)
        creates.append(_per_tenant(count, lambda i: create_tenant(engine, f"p{i:05d}")))
        _drop_all(engine)
        alembic_creates.append(
            _per_tenant(ALEMBIC_CREATES, lambda i: _create_through_alembic(engine, i))
        )
        _drop_all(engine)
    return Result(
        history=history,
        tenant_revisions=len(index.revisions[TENANT]),
        tenants=count,
        floor_ms=statistics.median(floors),
        create_ms=statistics.median(creates),
        alembic_create_ms=statistics.median(alembic_creates),
        repeat=repeat,
    )


def _per_tenant(count: int, create: Callable[[int], object]) -> float:
    """Milliseconds per tenant of ``create`` over ``count`` tenants, one after another."""
    started = time.perf_counter()
    for number in range(count):
        create(number)
    return (time.perf_counter() - started) * 1000 / count


def _floor(
    connection: psycopg.Connection, number: int, statements: Sequence[str], heads: Sequence[str]
) -> None:
    """One tenant's DDL, one statement at a time, in one transaction."""
    schema = f"tenant_p{number:05d}"
    with connection.transaction():
        connection.execute(create_schema(schema))
        connection.execute(set_local_search_path(schema))
        for statement in statements:
            connection.execute(statement)
        for head in heads:
            connection.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", (head,))


def _create_through_alembic(engine: Engine, number: int) -> None:
    subdomain = f"a{number:05d}"
    with engine.connect() as connection, connection.begin():
        _register(connection, subdomain, f"tenant_{subdomain}", None, "free")
        _migrate_through_alembic(connection, subdomain, f"tenant_{subdomain}")


def _drop_all(engine: Engine) -> None:
    """Every tenant schema and registry row (not timed), a schema per transaction: all of
    them in one would run out of lock slots."""
    with engine.connect() as connection:
        schemas = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")
        ).scalars()
        for schema in list(schemas):
            connection.execute(text(f"DROP SCHEMA {quote_identifier(schema)} CASCADE"))
            connection.commit()
        connection.execute(text("DELETE FROM core.tenants"))
        connection.commit()


def _print(results: list[Result]) -> None:
    print(
        f"{'history':>12} {'revisions':>9} {'tenants':>7} {'floor ms':>8} {'create ms':>9} "
        f"{'ratio':>6} {'alembic ms':>10}"
    )
    for r in results:
        print(
            f"{r.history:>12} {r.tenant_revisions:>9} {r.tenants:>7} {r.floor_ms:>8.1f} "
            f"{r.create_ms:>9.1f} {r.ratio:>6.2f} {r.alembic_create_ms:>10.1f}"
        )
    payload = [{**asdict(r), "create_vs_floor": r.ratio} for r in results]
    if len(results) == 2:
        payload.append({"create_growth_with_history": results[1].create_ms / results[0].create_ms})
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
