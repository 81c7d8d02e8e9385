"""Sessions bound to one tenant's schema through ``schema_translate_map``.

Every statement is compiled with the tenant's schema written into it, so nothing depends on
connection state: a pooled connection (or a PgBouncer server connection in transaction
mode) carries nothing from one tenant to the next.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from toolkit.naming import normalize_tenant_ref, schema_for


def tenant_engine(engine: Engine, tenant: str) -> Engine:
    """A view of ``engine`` (same pool) whose tenant tables resolve to ``tenant``'s schema.

    ``tenant`` is a subdomain (``acme``) or schema name (``tenant_acme``); it is validated
    before anything is sent to the database.
    """
    schema = schema_for(normalize_tenant_ref(tenant))
    return engine.execution_options(schema_translate_map={None: schema})


def tenant_session(engine: Engine, tenant: str, **session_options: Any) -> Session:
    """A Session whose tenant-model queries hit ``tenant``'s schema; core models hit ``core``."""
    return Session(bind=tenant_engine(engine, tenant), **session_options)
