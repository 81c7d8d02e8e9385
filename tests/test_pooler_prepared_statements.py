"""make_engine(transaction_pooler=True) through a real PgBouncer in transaction mode: psycopg's
automatic prepared statements break there, and the flag turns them off."""

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from toolkit import ConfigurationError, make_engine

# Well past psycopg's default prepare_threshold (5), so an unflagged engine prepares.
ROUNDS = 20
STATEMENT = text("SELECT CAST(:n AS integer) * 2")


def _alternate_two_clients(engine):
    """Run one statement ROUNDS times on each of two client connections, one transaction
    at a time, so PgBouncer passes its single server connection back and forth."""
    results = []
    with engine.connect() as first, engine.connect() as second:
        for n in range(ROUNDS):
            for connection in (first, second):
                results.append(connection.execute(STATEMENT, {"n": n}).scalar_one())
                connection.commit()
    return results


def test_an_engine_flagged_for_a_transaction_pooler_never_prepares(pgbouncer_url):
    engine = make_engine(pgbouncer_url, transaction_pooler=True, pool_size=2, max_overflow=0)
    try:
        assert _alternate_two_clients(engine) == [2 * n for n in range(ROUNDS) for _ in (1, 2)]
        with engine.connect() as connection:
            assert connection.connection.driver_connection.prepare_threshold is None
            prepared = connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            assert prepared.scalar_one() == 0
    finally:
        engine.dispose()


def test_without_the_flag_repeated_statements_fail_through_the_pooler(pgbouncer_url):
    """The control: psycopg's defaults do break here, so the flag is what makes it work."""
    engine = make_engine(pgbouncer_url, pool_size=2, max_overflow=0)
    try:
        with pytest.raises(DBAPIError) as failure:
            _alternate_two_clients(engine)
        assert isinstance(
            failure.value.orig,
            psycopg.errors.DuplicatePreparedStatement | psycopg.errors.InvalidSqlStatementName,
        )
    finally:
        engine.dispose()


def test_a_prepare_threshold_that_contradicts_the_flag_is_refused(db_url):
    with pytest.raises(ConfigurationError, match="prepare_threshold=5 contradicts"):
        make_engine(db_url, transaction_pooler=True, connect_args={"prepare_threshold": 5})
