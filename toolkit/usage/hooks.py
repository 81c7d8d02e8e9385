"""Plan limits enforced by the ORM: a ``before_flush`` listener on every Session.

Installed by ``toolkit.orm_hooks`` with the other global listeners. Before a flush of a
*tenant* session (``tenant_session``, or a ``tenant_sessionmaker`` session with a tenant in
scope) that adds rows of a limited kind, it checks the tenant's limits in the session's own
transaction:

- new (or restored, i.e. un-soft-deleted) ``User`` rows against ``max_users``;
- new (or restored) ``DesignImage`` rows against ``max_designs``;
- new ``Mockup`` rows against ``mockups_per_month``, consuming the month's
  ``mockups_generated`` usage by the number of new mockups (so mockups created through the
  ORM are metered here: do not ``record`` them again).

A refusal raises QuotaExceeded before anything of the flush is written; the usage is only
added when the check passes and is rolled back with the transaction. A flush that adds none
of these rows sends no SQL; sessions that are not bound to a tenant schema are not checked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import Session, UOWTransaction

from toolkit.session import TenantContextSession


def _restored(instance: Any) -> bool:
    """True if ``instance`` was soft-deleted and its ``deleted_at`` was set back to None."""
    history = inspect(instance).attrs.deleted_at.history
    return bool(history.deleted) and history.deleted[0] is not None and not instance.deleted_at


def _tenant_schema(session: Session) -> str | None:
    """The tenant schema the session's tenant tables resolve to, or None."""
    if isinstance(session, TenantContextSession):
        session.check_flush()  # the session's own scope errors come first, before any SQL
        scope = session.tenant
        return None if scope is None else scope.schema
    try:
        bind = session.get_bind()
    except UnboundExecutionError:
        return None
    translate = bind.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(None)
    return schema if isinstance(schema, str) else None


def enforce_quotas(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    """``before_flush`` listener: check the tenant's limits for the rows this flush adds."""
    # Imported here: ``models`` installs this listener while it is being imported.
    from models import DesignImage, Mockup, User
    from toolkit.usage.limits import tenant_plan_by_schema
    from toolkit.usage.plans import Limit
    from toolkit.usage.quota import check_plan_quota, consume_plan_quota

    adding = {Limit.MAX_USERS: 0, Limit.MAX_DESIGNS: 0}
    mockups = 0
    for instance in session.new:
        if isinstance(instance, User):
            adding[Limit.MAX_USERS] += 1
        elif isinstance(instance, DesignImage):
            adding[Limit.MAX_DESIGNS] += 1
        elif isinstance(instance, Mockup):
            mockups += 1
    for instance in session.dirty:
        if isinstance(instance, User | DesignImage) and _restored(instance):
            adding[Limit.MAX_USERS if isinstance(instance, User) else Limit.MAX_DESIGNS] += 1
    if not mockups and not any(adding.values()):
        return
    schema = _tenant_schema(session)
    if schema is None:
        return
    connection = session.connection()
    plan = tenant_plan_by_schema(connection, schema)
    if plan is None:
        return
    for limit, count in adding.items():
        if count and plan.allowed(limit) is not None:
            check_plan_quota(connection, plan, limit, count)
    if mockups:
        consume_plan_quota(connection, plan, Limit.MOCKUPS_PER_MONTH, mockups)
