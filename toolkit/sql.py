"""Identifier quoting for the few SQL statements that must name a schema.

Names reach SQL only through SQLAlchemy's PostgreSQL identifier quoting; callers validate
them first (``toolkit.naming``). No statement here is built by formatting a raw name.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects.postgresql.base import PGDialect

# Between the statements of one message or stored script: on a line of its own, so that a
# statement ending in a "-- comment" cannot swallow it.
STATEMENT_SEPARATOR = "\n;\n"

_PREPARER = PGDialect().identifier_preparer  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


def quote_identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier, always double-quoted and escaped."""
    return _PREPARER.quote_identifier(name)


def create_schema(name: str, *, if_not_exists: bool = False) -> str:
    """``CREATE SCHEMA`` for ``name``."""
    guard = "IF NOT EXISTS " if if_not_exists else ""
    return f"CREATE SCHEMA {guard}{quote_identifier(name)}"


def drop_schema(name: str, *, if_exists: bool = False) -> str:
    """``DROP SCHEMA ... CASCADE`` for ``name``."""
    guard = "IF EXISTS " if if_exists else ""
    return f"DROP SCHEMA {guard}{quote_identifier(name)} CASCADE"


def set_local_search_path(name: str) -> str:
    """``SET LOCAL search_path`` to ``name`` alone: it ends with the current transaction."""
    return f"SET LOCAL search_path TO {quote_identifier(name)}"


def quote_literal(value: str) -> str:
    """``value`` as a PostgreSQL string literal (standard_conforming_strings, the default)."""
    return "'" + value.replace("'", "''") + "'"


def text_array(values: Iterable[str]) -> str:
    """``values`` as a PostgreSQL ``text[]`` literal, in the order given."""
    return f"ARRAY[{', '.join(quote_literal(value) for value in values)}]::text[]"
